"""PCA on log-normalised, scaled expression: the baseline every deep model is compared with.

The same recipe as scanpy's tutorials (normalize_total 1e4, log1p, scale with
max_value 10, PCA), kept as explicit mean/std/components (:class:`ScaledPCA`) so that a
checkpoint alone projects new cells. Fitted on the training cells.

Where cells come in batches, the baselines a batch-aware model faces (``lifedl.tl.integration``):

- ``pca_combat``: ComBat on the log-normalised expression, then the PCA;
- ``pca_harmony``: the PCA, then Harmony on its components (scanpy's ``harmony_integrate`` recipe).

Both correct the cells they embed together (all of a data set's cells, labels unread): they keep no
per-batch model for a new cell alone.
"""

from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np
from sklearn.decomposition import PCA

from lifedl.data.splits import training_cells
from lifedl.errors import LifedlError
from lifedl.models.base import Setup
from lifedl.models.vae import batch_categories
from lifedl.pp.counts import log_normalise, model_counts
from lifedl.tl.integration import combat, harmony


@dataclasses.dataclass
class ScaledPCA:
    """Features standardised (clipped at ``max_value``, each then multiplied by its ``weight``) and projected
    on principal components: scanpy's scale + pca, with every fitted number kept."""

    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray
    components: np.ndarray
    pca_mean: np.ndarray
    explained_variance_ratio: np.ndarray
    max_value: float

    @classmethod
    def fit(cls, features: np.ndarray, n_components: int, max_value: float, seed: int, weight=None) -> ScaledPCA:
        mean = features.mean(axis=0)
        std = features.std(axis=0, ddof=1)
        std[std == 0] = 1.0
        weight = np.ones(features.shape[1]) if weight is None else np.asarray(weight, dtype=np.float64)
        scaled = np.minimum((features - mean) / std, max_value) * weight
        n_components = min(n_components, min(scaled.shape) - 1)
        pca = PCA(n_components=n_components, svd_solver="full", random_state=seed).fit(scaled)
        return cls(mean, std, weight, pca.components_, pca.mean_, pca.explained_variance_ratio_, max_value)

    def transform(self, features: np.ndarray) -> np.ndarray:
        scaled = np.minimum((features - self.mean) / self.std, self.max_value) * self.weight
        return ((scaled - self.pca_mean) @ self.components.T).astype(np.float32)

    def state(self) -> dict:
        return dataclasses.asdict(self)

    def summary(self, what: str) -> str:
        n_components = len(self.explained_variance_ratio)
        return f"{what}: {n_components} components explain {self.explained_variance_ratio.sum():.1%} of the variance"


class PCAModel:
    def __init__(self, gene_names, params, pca: ScaledPCA, arch: str = "pca", batch_key: str = "", seed: int = 0):
        self.arch, self.batch_key, self.seed = arch, batch_key, seed
        self.gene_names = list(gene_names)
        self.params = dict(params)
        self.pca = pca
        self.final_metrics = {
            "explained_variance_ratio_total": float(pca.explained_variance_ratio.sum()),
            "n_components": float(len(pca.explained_variance_ratio)),
        }

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        batches = _batches(adata, self.arch, self.batch_key)
        components = self.pca.transform(_expression(adata, self.gene_names, self.params, self.arch, batches))
        return harmony(components, batches, self.seed) if self.arch == "pca_harmony" else components

    def annotate(self, adata: ad.AnnData) -> None:
        """The components' gene loadings (genes x components, scanpy's varm['PCs']), as LDVAE's."""
        adata.varm["loadings_pca"] = self.pca.components.T.astype(np.float32)

    def checkpoint(self) -> dict:
        return {
            "arch": self.arch,
            "batch_key": self.batch_key,
            "seed": self.seed,
            "gene_names": self.gene_names,
            "params": self.params,
            "pca": self.pca.state(),
        }


def _batches(adata: ad.AnnData, arch: str, batch_key: str) -> np.ndarray | None:
    """The batch of each cell for the batch-correcting variants (None for plain PCA)."""
    if arch == "pca":
        return None
    if batch_key not in adata.obs or not batch_categories(adata, batch_key):
        raise LifedlError(
            f"{arch} corrects batches, but the cells have no batch column '{batch_key}' with two or more batches; "
            "set the data set's 'batch' column in the datasets sheet, or run 'pca'."
        )
    return adata.obs[batch_key].to_numpy()


def _expression(adata: ad.AnnData, gene_names, params: dict, arch: str, batches, what="the cells") -> np.ndarray:
    """Log-normalised expression (ComBat-corrected for ``pca_combat``)."""
    expression = log_normalise(model_counts(adata, gene_names, what), params["target_sum"]).toarray()
    return combat(expression, batches) if arch == "pca_combat" else expression


def fit(
    adata: ad.AnnData, params: dict, seed: int, arch: str = "pca", batch_key: str = "", where: str = "the cells"
) -> PCAModel:
    """The PCA of the training cells (train split; of their ComBat-corrected expression for ``pca_combat``);
    ``where`` names the data in errors."""
    training = training_cells(adata)
    expression = _expression(training, None, params, arch, _batches(training, arch, batch_key), where)
    pca = ScaledPCA.fit(expression, params["n_components"], params["max_value"], seed)
    print(f"{arch}: {pca.summary('RNA')}", flush=True)
    return PCAModel(adata.var_names, params, pca, arch, batch_key if arch != "pca" else "", seed)


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "pca") -> Setup:
    """No training loop (plan 'none'): ``finish`` fits the PCA."""
    return Setup(None, {}, lambda result: fit(adata, params, seed, arch, spec.batch, spec.where))


def from_checkpoint(checkpoint: dict) -> PCAModel:
    return PCAModel(
        checkpoint["gene_names"],
        checkpoint["params"],
        ScaledPCA(**checkpoint["pca"]),
        checkpoint.get("arch", "pca"),
        checkpoint.get("batch_key", ""),
        checkpoint.get("seed", 0),
    )
