"""Where a training step of the scVI-sized NB VAE spends its time, operator by operator (issue part 1).

A plain PyTorch loop (no Lightning, no data loader: the loader's batches of 128 cut beforehand) over lifedl's
`vae` network with scVI's defaults (benchmarks/common.scvi_like_vae_params) on the 20k 10x-like simulated
cells of same_model.py, with lifedl's optimiser (Adam's fused kernel). It measures:

- step_profile.tsv: torch.profiler's self CPU time per operator, in ms per step and as a share of the
  profiled steps' total, the largest first (what a faster step has to shrink);
- step_compile.tsv: ms per step of the same loop eager, eager with the NB likelihood as autograd computed
  it before (``autograd_likelihood``: the non-zero entries found by ``torch.nonzero``), with ``torch.compile``
  of the loss (inductor's C++ kernels; the first steps' compilation, in an empty cache, timed apart as warm_up_seconds) and eager under
  bf16 autocast (``torch.autocast("cpu", torch.bfloat16)``: the matrix products in bfloat16, as Lightning's
  ``precision="bf16-mixed"`` runs them; ``cpu_bf16`` says whether the CPU multiplies bfloat16 natively, AMX or
  AVX512-BF16): the median and range over interleaved blocks of steps, the variants taking turns, and each
  variant's mean loss over its last block (the same batches, so bf16's loss beside fp32's).

    python benchmarks/step_profile.py              # 2 threads, 200 timed steps
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import output_dir, scvi_like_vae_params, set_torch_threads, simulate_tenx_like

BATCH = 128
VARIANTS = ("eager", "autograd_likelihood", "compiled", "bf16_autocast")


def autograd_nb_per_cell(x, mu, theta):
    """The NB likelihood as lifedl computed it before its gradient was written out (until eedadd6), kept here to
    time against: autograd through dense products and logs, lgamma on the non-zero entries that
    ``torch.nonzero`` finds in the dense batch."""
    import torch

    eps = 1e-8
    log_theta_mu = torch.log(theta + mu + eps)
    per_cell = (
        (theta * torch.log(theta + eps)).sum()
        - ((theta + x) * log_theta_mu).sum(dim=-1)
        + (x * torch.log(mu + eps)).sum(dim=-1)
    )
    rows, cols = torch.nonzero(x, as_tuple=True)
    x_nz = x[rows, cols]
    per_cell = per_cell.index_add(0, rows, torch.lgamma(x_nz + theta[cols]) - torch.lgamma(x_nz + 1))
    return per_cell - (x > 0).to(x.dtype) @ torch.lgamma(theta)


def loader_batches(n_cells: int, n_batches: int, seed: int) -> list[dict]:
    """Batches as the training's loader gives them (dense counts and the CSR slice's non-zero coordinates),
    cut beforehand."""
    from lifedl.data.batches import FieldBatches

    cells = FieldBatches({"counts": simulate_tenx_like(n_cells, seed=seed).X})
    return [cells[np.arange(i * BATCH, (i + 1) * BATCH)] for i in range(n_batches)]


def cpu_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (Intel AMX or AVX512-BF16; Linux's /proc/cpuinfo flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def step_function(variant: str, seed: int):
    """One Adam step of the scVI-sized VAE (KL weight as at the warm-up's start): eager, eager with the likelihood
    before its gradient was written out (``autograd_likelihood``), compiled, or eager under bf16 autocast."""
    import dataclasses

    import torch

    from lifedl.models.vae import VAE
    from lifedl.nn.optim import adam

    params = scvi_like_vae_params(1)
    torch.manual_seed(seed)
    network = VAE(
        2000, params["n_latent"], params["n_hidden"], params["n_layers"], params["dropout"], params["likelihood"]
    )
    optimiser = adam(network.parameters(), lr=params["learning_rate"], weight_decay=params["weight_decay"])
    loss_of = network.loss
    if variant == "autograd_likelihood":
        network.likelihood = dataclasses.replace(
            network.likelihood,
            log_prob_per_cell=lambda x, mean, gene_parameter, zero_logits, nonzero: autograd_nb_per_cell(
                x, mean, torch.exp(gene_parameter)
            ),
        )
    if variant == "compiled":
        import torch._dynamo

        # the likelihood's data-dependent shapes (torch.nonzero where a batch comes without coordinates)
        torch._dynamo.config.capture_dynamic_output_shape_ops = True
        loss_of = torch.compile(network.loss)

    def step(batch):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant == "bf16_autocast"):
            parts = loss_of(batch)
        loss = parts["reconstruction"] + parts["kl"] / params["kl_warmup_epochs"]
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return loss.item()

    return step


def timed_steps(step, batches, n_steps: int) -> tuple[float, float]:
    """Seconds per step over ``n_steps`` (cycling over ``batches``) and the mean loss over them."""
    started = time.perf_counter()
    losses = [step(batches[i % len(batches)]) for i in range(n_steps)]
    return (time.perf_counter() - started) / n_steps, float(np.mean(losses))


def operator_table(step, batches, n_steps: int) -> pd.DataFrame:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for i in range(n_steps):
            step(batches[i % len(batches)])
    rows = [
        {
            "operator": event.key,
            "calls_per_step": event.count / n_steps,
            "ms_per_step": event.self_cpu_time_total / 1e3 / n_steps,
        }
        for event in profiler.key_averages()
    ]
    table = pd.DataFrame(rows).sort_values("ms_per_step", ascending=False)
    table["share_of_step"] = table["ms_per_step"] / table["ms_per_step"].sum()
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300, help="timed steps per variant")
    parser.add_argument("--blocks", type=int, default=6, help="interleaved timing blocks per variant")
    parser.add_argument("--cells", type=int, default=20_000, help="simulated cells (as same_model.py)")
    parser.add_argument("--top", type=int, default=12, help="operators kept in step_profile.tsv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", help="default results/benchmarks")
    args = parser.parse_args(argv)
    from lifedl.io import write_tsv

    set_torch_threads(args.threads)
    out_dir = output_dir(args.out_dir, quick=False)
    batches = loader_batches(args.cells, 60, args.seed)
    steps, warm_up = {}, {}
    with tempfile.TemporaryDirectory(prefix="lifedl-inductor-") as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # a cold cache: the compilation a first job pays
        for variant in VARIANTS:
            steps[variant] = step_function(variant, args.seed)
            started = time.perf_counter()
            for batch in batches[:5]:  # compilation, or the allocator's first steps
                steps[variant](batch)
            warm_up[variant] = time.perf_counter() - started
        # Interleaved blocks, so that a slower spell of the machine falls on both variants alike.
        block_ms = {variant: [] for variant in VARIANTS}
        last_loss = {}
        for _ in range(args.blocks):
            for variant in VARIANTS:
                seconds, last_loss[variant] = timed_steps(steps[variant], batches, args.steps // args.blocks)
                block_ms[variant].append(seconds * 1e3)
    rows, native_bf16 = [], "yes" if cpu_bf16() else "no"
    for variant in VARIANTS:
        ms = np.array(block_ms[variant])
        rows.append(
            {
                "variant": variant,
                "threads": args.threads,
                "warm_up_seconds": warm_up[variant],
                "ms_per_step": float(np.median(ms)),
                "ms_per_step_min": float(ms.min()),
                "ms_per_step_max": float(ms.max()),
                "loss_last_block": last_loss[variant],
                "cpu_bf16": native_bf16,
            }
        )
        print(f"{variant}: warm-up {warm_up[variant]:.1f} s, median {np.median(ms):.2f} ms per step", flush=True)
    operators = operator_table(steps["eager"], batches, min(args.steps, 100))
    write_tsv(pd.DataFrame(rows).round(4), out_dir / "step_compile.tsv")
    write_tsv(operators.head(args.top).round(4), out_dir / "step_profile.tsv")
    print(operators.head(args.top).round(3).to_string(index=False))
    print(f"wrote {out_dir / 'step_profile.tsv'} and {out_dir / 'step_compile.tsv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
