"""PCA on log-normalised, scaled expression: the baseline every deep model is compared with.

The same recipe as scanpy's tutorials (normalize_total 1e4, log1p, scale with
max_value 10, PCA), kept as explicit mean/std/components (:class:`ScaledPCA`) so that a
checkpoint alone projects new cells.
"""

from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np
from sklearn.decomposition import PCA

from lifedl.models.base import Setup
from lifedl.pp.counts import counts_matrix, log_normalise


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
    arch = "pca"

    def __init__(self, gene_names, params, pca: ScaledPCA):
        self.gene_names = list(gene_names)
        self.params = dict(params)
        self.pca = pca
        self.final_metrics = {
            "explained_variance_ratio_total": float(pca.explained_variance_ratio.sum()),
            "n_components": float(len(pca.explained_variance_ratio)),
        }

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        return self.pca.transform(
            log_normalise(counts_matrix(adata, self.gene_names), self.params["target_sum"]).toarray()
        )

    def annotate(self, adata: ad.AnnData) -> None:
        """The components' gene loadings (genes x components, scanpy's varm['PCs']), as LDVAE's."""
        adata.varm["loadings_pca"] = self.pca.components.T.astype(np.float32)

    def checkpoint(self) -> dict:
        return {"gene_names": self.gene_names, "params": self.params, "pca": self.pca.state()}


def fit(adata: ad.AnnData, params: dict, seed: int) -> PCAModel:
    expression = log_normalise(counts_matrix(adata), params["target_sum"]).toarray()
    pca = ScaledPCA.fit(expression, params["n_components"], params["max_value"], seed)
    print(f"PCA: {pca.summary('RNA')}", flush=True)
    return PCAModel(adata.var_names, params, pca)


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "pca") -> Setup:
    """No training loop (plan 'none'): ``finish`` fits the PCA."""
    return Setup(None, {}, lambda result: fit(adata, params, seed))


def from_checkpoint(checkpoint: dict) -> PCAModel:
    return PCAModel(checkpoint["gene_names"], checkpoint["params"], ScaledPCA(**checkpoint["pca"]))
