"""scGAN: a Wasserstein GAN that generates realistic cells (Marouf et al. 2020, Nat Commun 11:166).

Data. As in the paper, the GAN learns library-size-normalised expression WITHOUT a log: every
cell's counts are scaled to the same total (``library_size``, their 20,000). The generator's
last step, the library-size normalisation (LSN) layer, scales each generated cell to that same
total, so generated and real cells live on one scale by construction, and ``ScGANModel.prepare``
is the one place that puts real cells on it. Measures that want a log scale (PCA, UMAP, the
realism measures in ``lifedl.tl.realism``) apply log1p to both sides themselves.

Networks (the paper's sizes are the defaults).
- Generator: Gaussian noise (``n_latent``) -> ``generator_layers`` of Linear -> batch norm -> ReLU
  -> genes, ReLU (expression is non-negative) -> LSN.
- Critic: genes -> ``critic_layers`` of Linear -> ReLU -> 1, no sigmoid (a Wasserstein critic
  scores, it does not classify), no batch norm (the gradient penalty is per sample).

Loss: WGAN-GP (Gulrajani et al. 2017). Critic loss = E[f(fake)] - E[f(real)] + penalty_weight *
E[(||grad_x f(x_hat)||_2 - 1)^2] with x_hat on random points of the segments between real and
generated cells (one epsilon per cell); generator loss = -E[f(fake)]. ``critic_steps`` critic
updates (one per minibatch of real cells) per generator update; Adam with AMSGrad (as scGAN),
betas (0, 0.9) by default (WGAN-GP's; scGAN's code used 0.5, 0.9), the learning rate decaying
exponentially to ``learning_rate_final`` over the run (the paper's schedule, set per epoch here).

cscGAN (``conditional: true``): conditioned on the cell type (the data set's ``labels`` column) as the
paper's code does by default: conditional batch norm in the generator (per-type scale and offset
after each normalisation) and a projection critic (Miyato & Koyama 2018: f(x, y) = w.h(x) + b +
e_y.h(x)).
Generated cells for a real minibatch take that minibatch's types, so the types follow the data's
proportions, and each gradient-penalty interpolate lies between a real and a generated cell of
the same type.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
import torch
from torch import nn

from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel, network_state
from lifedl.pp.counts import library_size_normalise, model_counts, scaled_cells

GENERATE_BATCH = 4096  # cells per generator pass in generate()


class LibrarySizeNormalisation(nn.Module):
    """The paper's LSN layer: scales each generated cell to the fixed total ``library_size``."""

    def __init__(self, library_size: float):
        super().__init__()
        self.library_size = float(library_size)

    def forward(self, expression: torch.Tensor) -> torch.Tensor:
        # float32 even under bf16 autocast: a 20,000 total in bf16 is off by tens.
        expression = expression.float()
        return expression * (self.library_size / (expression.sum(dim=-1, keepdim=True) + 1e-12))


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose scale and offset are looked up per class (Dumoulin et al. 2017); plain
    batch norm with learned scale and offset when there are no classes.

    Per-class rows are picked by a one-hot product rather than an embedding lookup: its gradient is a
    plain matrix product, deterministic on a GPU (Lightning runs with deterministic algorithms)."""

    def __init__(self, width: int, n_classes: int):
        super().__init__()
        self.n_classes = n_classes
        self.norm = nn.BatchNorm1d(width, affine=n_classes == 0)
        if n_classes:
            self.scale = nn.Parameter(torch.ones(n_classes, width))
            self.offset = nn.Parameter(torch.zeros(n_classes, width))

    def forward(self, hidden: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        hidden = self.norm(hidden)
        if self.n_classes:
            one_hot = nn.functional.one_hot(labels, self.n_classes).to(hidden.dtype)
            hidden = hidden * (one_hot @ self.scale) + one_hot @ self.offset
        return hidden


class Generator(nn.Module):
    def __init__(self, n_genes: int, n_latent: int, layers: Sequence[int], library_size: float, n_classes: int = 0):
        super().__init__()
        widths = [n_latent, *layers]
        # No bias before batch norm: its offset does that job (as in the paper's code).
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in itertools.pairwise(widths))
        self.norms = nn.ModuleList(ConditionalBatchNorm(width, n_classes) for width in layers)
        self.output = nn.Linear(widths[-1], n_genes)
        self.lsn = LibrarySizeNormalisation(library_size)

    def forward(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        hidden = noise
        for linear, norm in zip(self.linears, self.norms):
            hidden = torch.relu(norm(linear(hidden), labels))
        return self.lsn(torch.relu(self.output(hidden)))


class Critic(nn.Module):
    def __init__(self, n_genes: int, layers: Sequence[int], n_classes: int = 0):
        super().__init__()
        widths = [n_genes, *layers]
        blocks: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            blocks += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*blocks)
        self.output = nn.Linear(widths[-1], 1)
        self.n_classes = n_classes
        self.projection = (
            nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_classes, widths[-1]))) if n_classes else None
        )

    def forward(self, cells: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.body(cells)
        score = self.output(hidden).squeeze(-1)
        if self.projection is not None:
            one_hot = nn.functional.one_hot(labels, self.n_classes).to(hidden.dtype)
            score = score + ((one_hot @ self.projection) * hidden).sum(dim=-1)
        return score


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None):
    """WGAN-GP's penalty E[(||grad_x f(x_hat)||_2 - 1)^2], x_hat = real + epsilon (fake - real), one epsilon
    per cell drawn from U(0, 1): the critic is pushed towards slope 1 where real and generated cells meet."""
    epsilon = torch.rand(real.shape[0], 1, device=real.device, dtype=real.dtype)
    interpolates = (real + epsilon * (fake - real)).detach().requires_grad_(True)
    scores = critic(interpolates, labels)
    (gradients,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
    return ((gradients.float().norm(2, dim=-1) - 1.0) ** 2).mean()


class ScGAN(nn.Module):
    """Generator, critic and the two WGAN-GP losses, with named parts."""

    def __init__(self, n_genes: int, params: dict, n_classes: int = 0):
        super().__init__()
        self.n_latent, self.n_classes = params["n_latent"], n_classes
        self.penalty_weight = float(params["penalty_weight"])
        self.generator = Generator(
            n_genes, params["n_latent"], params["generator_layers"], params["library_size"], n_classes
        )
        self.critic = Critic(n_genes, params["critic_layers"], n_classes)

    def _labels(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        return labels if self.n_classes else None

    @staticmethod
    def batch_labels(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The minibatch's cell-type codes (field ``label``); all 0 for an unconditional GAN, whose generated
        cells still follow a minibatch's size."""
        real = batch["expression"]
        return batch["label"] if "label" in batch else torch.zeros(len(real), dtype=torch.long, device=real.device)

    def fake_labels(self, real_labels: torch.Tensor, n_fake: int) -> torch.Tensor:
        """Types for ``n_fake`` generated cells: the real minibatch's own types first (so the penalty pairs
        cells of one type), then types resampled from that minibatch."""
        extra = real_labels[
            torch.randint(len(real_labels), (max(0, n_fake - len(real_labels)),), device=real_labels.device)
        ]
        return torch.cat([real_labels, extra])[:n_fake]

    def generate(self, n_cells: int, labels: torch.Tensor, device: torch.device) -> torch.Tensor:
        noise = torch.randn(n_cells, self.n_latent, device=device)
        return self.generator(noise, self._labels(labels))

    def critic_loss(self, real: torch.Tensor, real_labels: torch.Tensor, n_fake: int) -> dict[str, torch.Tensor]:
        """The critic's loss on one minibatch of real cells and ``n_fake`` generated ones (the generator gets no
        gradient). ``n_fake`` stays at batch_size so that batch norm never sees a tiny last minibatch."""
        labels = self.fake_labels(real_labels, max(n_fake, len(real)))
        with torch.no_grad():
            fake = self.generate(len(labels), labels, real.device)
        real = real.float()
        score_real = self.critic(real, self._labels(real_labels)).float().mean()
        score_fake = self.critic(fake, self._labels(labels)).float().mean()
        penalty = gradient_penalty(self.critic, real, fake[: len(real)], self._labels(real_labels))
        adversarial = score_fake - score_real
        return {
            "loss": adversarial + self.penalty_weight * penalty,
            "critic": adversarial,
            "gradient_penalty": penalty,
            "wasserstein_distance": -adversarial.detach(),
        }

    def generator_loss(self, real_labels: torch.Tensor, n_fake: int) -> dict[str, torch.Tensor]:
        labels = self.fake_labels(real_labels, n_fake)
        fake = self.generate(n_fake, labels, real_labels.device)
        return {"generator": -self.critic(fake, self._labels(labels)).float().mean()}


def check_params(params: dict) -> None:
    def fail(name: str, requirement: str) -> None:
        raise LifedlError(
            f"scgan hyper-parameter '{name}' = {params[name]!r} must be {requirement}; "
            f"fix it under params.scgan in config/config.yaml."
        )

    for name in ("generator_layers", "critic_layers"):
        layers = params[name]
        if not layers or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in layers):
            fail(name, "a non-empty list of positive layer widths, e.g. [256, 512, 1024]")
    for name in ("n_latent", "critic_steps", "max_epochs"):
        if params[name] < 1:
            fail(name, "at least 1")
    if params["batch_size"] < 2:
        fail("batch_size", "at least 2 (the generator's batch norm needs two cells)")
    for name in ("library_size", "learning_rate", "learning_rate_final"):
        if not params[name] > 0:
            fail(name, "positive")
    if params["penalty_weight"] < 0:
        fail("penalty_weight", "zero or positive")
    for name in ("beta1", "beta2"):
        if not 0 <= params[name] < 1:
            fail(name, "in [0, 1)")


class ScGANModel(TrainedModel):
    """A trained generator: ``generate`` new cells, ``prepare`` real ones on the same scale."""

    def __init__(
        self,
        arch,
        generator,
        gene_names,
        params,
        cell_types=(),
        cell_type_fractions=(),
        labels_key="",
        final_metrics=None,
    ):
        self.arch, self.generator = arch, generator.eval()
        self.gene_names, self.params = list(gene_names), dict(params)
        self.cell_types = list(cell_types)  # the conditioning classes, in code order; empty when unconditional
        self.cell_type_fractions = np.asarray(cell_type_fractions, dtype=np.float64)
        self.labels_key = labels_key  # obs column of the training cells' types ("" = none)
        self.final_metrics = dict(final_metrics or {})

    @property
    def conditional(self) -> bool:
        return bool(self.cell_types)

    def prepare(self, adata: ad.AnnData) -> ad.AnnData:
        """Real cells on the generator's scale: layers['counts'] of the model's genes, each cell scaled to
        ``library_size`` (no log); obs is kept, with obs['cell_type'] from the training labels column."""
        prepared = scaled_cells(adata, self.gene_names, self.params["library_size"])
        if self.labels_key and self.labels_key in adata.obs:
            prepared.obs["cell_type"] = adata.obs[self.labels_key].astype(str).astype("category").to_numpy()
        return prepared

    def _codes(self, n_cells: int, cell_types: Sequence[str] | None, rng: np.random.Generator) -> np.ndarray:
        if not self.conditional:
            if cell_types is not None:
                raise LifedlError(
                    "this scgan model was trained without cell types (conditional: false); generate without "
                    "cell_types, or retrain with params.scgan.conditional: true and a 'labels' column."
                )
            return np.zeros(n_cells, dtype=np.int64)
        if cell_types is None:  # the training data's proportions, as the paper's cscGAN samples them
            return rng.choice(len(self.cell_types), size=n_cells, p=self.cell_type_fractions)
        cell_types = [str(t) for t in cell_types]
        if len(cell_types) != n_cells:
            raise LifedlError(f"cell_types has {len(cell_types)} entries for {n_cells} cells; give one type per cell.")
        unknown = sorted(set(cell_types) - set(self.cell_types))
        if unknown:
            raise LifedlError(f"cell types {unknown[:5]} were not seen in training; known: {self.cell_types}.")
        index = {name: code for code, name in enumerate(self.cell_types)}
        return np.array([index[t] for t in cell_types], dtype=np.int64)

    @torch.no_grad()
    def generate(self, n_cells: int, seed: int = 0, cell_types: Sequence[str] | None = None) -> ad.AnnData:
        """``n_cells`` new cells, the same for the same seed: X on the real cells' scale (``prepare``), the
        model's genes, obs['cell_type'] when the model is conditional (drawn with the training proportions
        unless ``cell_types`` names one type per cell)."""
        if n_cells < 1:
            raise LifedlError(f"generate() needs n_cells >= 1, got {n_cells}.")
        codes = self._codes(n_cells, cell_types, np.random.default_rng(seed))
        noise_source = torch.Generator().manual_seed(seed)
        self.generator.eval()  # batch norm with its running statistics: a cell does not depend on its batch-mates
        chunks = []
        for start in range(0, n_cells, GENERATE_BATCH):
            stop = min(start + GENERATE_BATCH, n_cells)
            noise = torch.randn(stop - start, self.params["n_latent"], generator=noise_source)
            labels = torch.as_tensor(codes[start:stop]) if self.conditional else None
            chunks.append(self.generator(noise, labels).numpy())
        obs = pd.DataFrame(index=pd.Index([f"generated_{i}" for i in range(n_cells)], dtype=str))
        if self.conditional:
            obs["cell_type"] = pd.Categorical.from_codes(codes, categories=self.cell_types)
        return ad.AnnData(
            X=np.concatenate(chunks).astype(np.float32),
            obs=obs,
            var=pd.DataFrame(index=pd.Index(self.gene_names, dtype=str)),
        )

    def own_state(self) -> dict:
        # The generator alone: it is what generates cells. Resuming training uses the run's last.ckpt instead.
        return network_state(
            self,
            self.generator,
            cell_types=self.cell_types,
            cell_type_fractions=self.cell_type_fractions,
            labels_key=self.labels_key,
        )


def _cell_type_codes(adata: ad.AnnData, spec) -> tuple[list[str], np.ndarray]:
    if not spec.labels:
        raise LifedlError(
            f"{spec.where}: params.scgan.conditional is true but the data set names no cell-type column; fill "
            "its 'labels' column in config/datasets.tsv, or set conditional: false."
        )
    if spec.labels not in adata.obs:
        raise LifedlError(
            f"{spec.where}: cell-type column '{spec.labels}' (datasets.tsv 'labels') is not in obs; "
            f"columns there: {sorted(adata.obs.columns)[:20]}."
        )
    values = adata.obs[spec.labels]
    if values.isna().any():
        raise LifedlError(
            f"{spec.where}: {int(values.isna().sum())} cells have no '{spec.labels}'; a conditional "
            "scgan needs a type for every cell: drop or label them, or set conditional: false."
        )
    values = values.astype(str)
    cell_types = sorted(values.unique())
    return cell_types, values.map({name: code for code, name in enumerate(cell_types)}).to_numpy().astype(np.int64)


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "scgan") -> Setup:
    """Fields: ``expression`` (library-size-normalised cells) and, for cscGAN, ``label`` (cell-type codes)."""
    check_params(params)
    if adata.n_obs < 2:
        raise LifedlError(f"{spec.where}: {adata.n_obs} cell(s); scgan needs at least two cells to train.")
    arrays: dict[str, object] = {
        "expression": library_size_normalise(model_counts(adata, what=spec.where), params["library_size"])
    }
    cell_types: list[str] = []
    if params["conditional"]:
        cell_types, arrays["label"] = _cell_type_codes(adata, spec)
    network = ScGAN(adata.n_vars, params, len(cell_types))

    def finish(result: FitResult) -> ScGANModel:
        codes = arrays.get("label")
        fractions = np.bincount(codes, minlength=len(cell_types)) / len(codes) if cell_types else []
        labels_key = spec.labels if spec.labels in adata.obs else ""
        return ScGANModel(
            arch, network.generator, adata.var_names, params, cell_types, fractions, labels_key, result.metrics
        )

    return Setup(network, arrays, finish)


def from_checkpoint(checkpoint: dict) -> ScGANModel:
    params = checkpoint["params"]
    generator = Generator(
        len(checkpoint["gene_names"]),
        params["n_latent"],
        params["generator_layers"],
        params["library_size"],
        len(checkpoint["cell_types"]),
    )
    generator.load_state_dict(checkpoint["state_dict"])
    return ScGANModel(
        checkpoint["arch"],
        generator,
        checkpoint["gene_names"],
        params,
        checkpoint["cell_types"],
        checkpoint["cell_type_fractions"],
        checkpoint["labels_key"],
        checkpoint["final_metrics"],
    )
