"""Training plans: how each architecture is trained, one per kind of training loop (``lifedl.train.loops``).

The registry names each architecture's plan (``lifedl.models.Architecture.plan``):

- ``generic``: one Adam over the network, early stopping on ``val/loss`` (``lifedl.train.fit.LitModel``);
  the network's ``loss(batch)`` returns named parts, whose sum (with the KL warm-up weight on ``kl``) is
  the loss.
- ``dgd``: the deep generative decoder's three optimisers (decoder and mixture per minibatch, the
  per-cell representations once per epoch).
- ``gan``: WGAN-GP's alternating critic and generator updates.
- ``agent``: reinforcement learning: the agent collects its own data (``Setup.learn``), logging per episode.
- ``none``: no loop (PCA, the k-mer baseline): ``Setup.finish`` fits the model.

:func:`fit_architecture` is the one way any architecture is trained: seed, ``setup``, plan, ``finish``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys

import anndata as ad

from lifedl.data.splits import SPLIT_KEY, TEST, add_splits, describe, split_of
from lifedl.models import get_architecture
from lifedl.models.base import FitResult, TrainedModel
from lifedl.models.registry import with_epochs
from lifedl.tl.seeds import LOWER_IS_BETTER
from lifedl.train.context import TrainingContext, seed_everything


def fit_architecture(adata: ad.AnnData, arch: str, params: dict, context: TrainingContext, spec) -> TrainedModel:
    """Train architecture ``arch`` on ``adata`` (roles from ``spec``, a ``lifedl.data.spec.DatasetSpec``).

    The model is set up on the data set's train and validation rows only (``obs['lifedl_split']``): test rows
    never reach it. Data without that column gets one first (``lifedl.data.splits.add_splits``, in place), so the
    caller knows which rows stayed unseen. Every generator is seeded first: weights are initialised in ``setup``, before any training
    loop starts.
    """
    architecture = get_architecture(arch)
    params = with_epochs(params, adata.n_obs)  # max_epochs 'auto': by the data set's cells, test cells included
    if params.get("search"):
        chosen, n_settings = search_on_validation(adata, arch, params, context, spec)
        model = fit_architecture(adata, arch, chosen, context, spec)
        model.final_metrics["search_settings"] = n_settings
        return model
    if architecture.plan == "agent":  # no rows to split, no Lightning either: the agent runs its own episodes
        seed_everything(context.seed)
        setup = architecture.setup(adata, params, spec, context.seed, context.models)
        return setup.finish(fit_agent(setup, context))
    if SPLIT_KEY not in adata.obs:  # data made by hand (the qc rule writes one): split as it would, in place
        counts = add_splits(adata, spec)
        print(f"{spec.where}: obs['{SPLIT_KEY}'] set to a new split ({describe(counts)})", file=sys.stderr, flush=True)
    adata = without_test_rows(adata, spec.where)
    if architecture.plan == "none":
        seed_everything(context.seed)
        return architecture.setup(adata, params, spec, context.seed, context.models).finish(None)
    import torch

    from lifedl.train.loops import LOOPS  # Lightning, imported only for a network

    # Deterministic kernels for networks only: the switch imports torch's compiler (3 s), which
    # Lightning needs anyway but PCA and the k-mer model do not.
    torch.use_deterministic_algorithms(True, warn_only=True)
    seed_everything(context.seed)
    setup = architecture.setup(adata, params, spec, context.seed, context.models)
    if setup.split is None:
        setup = dataclasses.replace(setup, split=split_of(adata, spec.where))
    return setup.finish(LOOPS[architecture.plan](setup, params, context))


def search_on_validation(
    adata: ad.AnnData, arch: str, params: dict, context: TrainingContext, spec
) -> tuple[dict, int]:
    """The hyper-parameters of the grid ``params['search']`` ({name: [values]}) whose model scores best on
    ``params['search_metric']`` (one of its final metrics: a classifier's on its validation rows; lower is better
    where ``lifedl.tl.seeds.LOWER_IS_BETTER`` says so), returned with ``search`` emptied for the final fit, and
    the number of settings tried. ``params['search_trial']`` overrides apply to the settings' fits only: an agent,
    which has no validation rows, is tuned in another environment than the one it is scored in (another motif).
    Every setting is trained with the same seed, in its own checkpoint folder and outside the MLflow run, which
    gets one ``search/<metric>`` value per setting (step: the setting's number) and the chosen values as
    parameters."""
    names = sorted(params["search"])
    settings = [
        dict(zip(names, values, strict=True)) for values in itertools.product(*(params["search"][n] for n in names))
    ]
    metric = params["search_metric"]
    sign = 1.0 if metric.removeprefix("val_") in LOWER_IS_BETTER else -1.0
    scores = []
    for number, setting in enumerate(settings):
        trial = dataclasses.replace(context, recorder=None, work_dir=context.work_dir / "search" / str(number))
        trial.work_dir.mkdir(parents=True, exist_ok=True)
        trial_params = {**params, **setting, **params.get("search_trial", {}), "search": {}}
        model = fit_architecture(adata, arch, trial_params, trial, spec)
        score = float(model.final_metrics.get(metric, math.nan))
        scores.append(sign * score if math.isfinite(score) else math.inf)
        print(
            f"{context.label or arch}: search {number + 1}/{len(settings)} {setting}: {metric} {score:.4g}", flush=True
        )
        if context.recorder is not None:
            context.recorder.log_metrics({f"search/{metric}": score}, step=number)
    chosen = settings[scores.index(min(scores))]
    where = f"in {params['search_trial']}" if params.get("search_trial") else "on the validation rows"
    print(f"{context.label or arch}: chosen {where} ({metric}): {chosen}", flush=True)
    if context.recorder is not None:
        context.recorder.log_params({f"chosen/{name}": value for name, value in chosen.items()})
    return {**params, **chosen, "search": {}}, len(settings)


def fit_on_shards(shards, arch: str, params: dict, context: TrainingContext, spec) -> TrainedModel:
    """Train ``arch`` on a sharded data set (``lifedl.data.shards``) whose counts stay on disk: the architecture is
    set up on the cells' annotations (obs, var and an empty count matrix: its shapes and covariates), then trains
    on the counts of the train and validation rows read a shard at a time (shuffled by shards, then within each).
    The generic plan's networks that read only ``counts`` from the matrix (the VAE family)."""
    import numpy as np

    from lifedl.data.shards import ShardedCounts
    from lifedl.errors import LifedlError
    from lifedl.train.loops import fit_generic

    architecture = get_architecture(arch)
    if architecture.plan != "generic":
        raise LifedlError(
            f"{spec.where}: '{arch}' trains with the '{architecture.plan}' plan; a sharded data set trains networks "
            "of the generic plan (the VAE family). Train it on an in-memory AnnData, or choose vae."
        )
    annotations = shards.annotations()
    if SPLIT_KEY not in annotations.obs:
        add_splits(annotations, spec)
    kept = np.flatnonzero(split_of(annotations, spec.where) != TEST)
    annotations = annotations[kept].copy()
    import torch

    torch.use_deterministic_algorithms(True, warn_only=True)  # as fit_architecture
    seed_everything(context.seed)
    setup = architecture.setup(annotations, params, spec, context.seed, context.models)
    if "counts" not in setup.arrays or set(setup.arrays) - {"counts", "batch"}:
        raise LifedlError(f"{spec.where}: '{arch}' reads {sorted(setup.arrays)}; a sharded data set serves counts.")
    arrays = {**setup.arrays, "counts": ShardedCounts(shards, kept)}
    setup = dataclasses.replace(setup, arrays=arrays, split=split_of(annotations, spec.where))
    return setup.finish(fit_generic(setup, params, context))


def embed_on_shards(model: TrainedModel, shards):
    """Every cell of a sharded data set embedded by a model of the VAE family, read a shard at a time."""
    from lifedl.data.shards import ShardedCounts

    return model.embed_fields({**model.fields(shards.annotations()), "counts": ShardedCounts(shards)})


def without_test_rows(adata: ad.AnnData, where: str) -> ad.AnnData:
    """The train and validation rows (a copy: a model may write to its data). Every model reads the counts in
    ``layers['counts']``, so where they are there the copy leaves out X (the workflow's log-normalised values) and
    ``raw`` (the 1.3M-cell pipeline's training peaked at 11.09 GiB with them, 9.59 without)."""
    rows = split_of(adata, where) != TEST
    if "counts" not in adata.layers:  # X holds the data (lifedl.models.chromatin reads it then)
        return adata[rows].copy()
    fields = ("obs", "var", "uns", "obsm", "varm", "obsp", "varp", "layers")
    without_x = ad.AnnData(**{name: getattr(adata, name) for name in fields})  # references, no copies
    return without_x[rows].copy()


def fit_agent(setup, context: TrainingContext) -> FitResult:
    """An agent that collects its own data (reinforcement learning): ``setup.learn(log)`` runs its episodes and
    logs once per episode to the run; there are no rows to split."""
    import numpy as np

    recorder = context.recorder

    def log(metrics: dict[str, float], episode: int) -> None:
        if recorder is not None:
            recorder.log_metrics(metrics, step=episode)

    empty = np.array([], dtype=np.int64)
    return FitResult(setup.learn(log), empty, empty)
