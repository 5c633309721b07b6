"""PCA on log-normalised, scaled expression: the baseline every deep model is compared with.

The same recipe as scanpy's tutorials (normalize_total 1e4, log1p, scale with
max_value 10, PCA), kept as explicit mean/std/components so that a checkpoint
alone projects new cells.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
from sklearn.decomposition import PCA

from lifedl.models.base import Setup
from lifedl.pp.counts import counts_matrix, log_normalise


class PCAModel:
    arch = "pca"

    def __init__(self, gene_names, params, mean, std, components, pca_mean, explained_variance_ratio):
        self.gene_names = list(gene_names)
        self.params = dict(params)
        self.mean, self.std = np.asarray(mean), np.asarray(std)
        self.components, self.pca_mean = np.asarray(components), np.asarray(pca_mean)
        self.explained_variance_ratio = np.asarray(explained_variance_ratio)
        self.final_metrics = {
            "explained_variance_ratio_total": float(self.explained_variance_ratio.sum()),
            "n_components": float(len(self.explained_variance_ratio)),
        }

    def _scaled(self, adata: ad.AnnData) -> np.ndarray:
        expression = log_normalise(counts_matrix(adata, self.gene_names), self.params["target_sum"]).toarray()
        return np.minimum((expression - self.mean) / self.std, self.params["max_value"])

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        return ((self._scaled(adata) - self.pca_mean) @ self.components.T).astype(np.float32)

    def checkpoint(self) -> dict:
        return {
            "gene_names": self.gene_names,
            "params": self.params,
            "mean": self.mean,
            "std": self.std,
            "components": self.components,
            "pca_mean": self.pca_mean,
            "explained_variance_ratio": self.explained_variance_ratio,
        }


def fit(adata: ad.AnnData, params: dict, seed: int) -> PCAModel:
    expression = log_normalise(counts_matrix(adata), params["target_sum"]).toarray()
    mean = expression.mean(axis=0)
    std = expression.std(axis=0, ddof=1)
    std[std == 0] = 1.0
    scaled = np.minimum((expression - mean) / std, params["max_value"])
    n_components = min(params["n_components"], min(scaled.shape) - 1)
    pca = PCA(n_components=n_components, svd_solver="full", random_state=seed).fit(scaled)
    print(
        f"PCA: {n_components} components explain {pca.explained_variance_ratio_.sum():.1%} of the variance", flush=True
    )
    return PCAModel(adata.var_names, params, mean, std, pca.components_, pca.mean_, pca.explained_variance_ratio_)


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "pca") -> Setup:
    """No training loop (plan 'none'): ``finish`` fits the PCA."""
    return Setup(None, {}, lambda result: fit(adata, params, seed))


def from_checkpoint(checkpoint: dict) -> PCAModel:
    keys = ("gene_names", "params", "mean", "std", "components", "pca_mean", "explained_variance_ratio")
    return PCAModel(*(checkpoint[k] for k in keys))
