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

import anndata as ad
import numpy as np

from lifedl.data.splits import training_cells
from lifedl.errors import LifedlError
from lifedl.models.base import Setup, TrainedModel
from lifedl.models.vae import batch_categories
from lifedl.pp.counts import log_normalise, model_counts
from lifedl.pp.pca import ScaledPCA
from lifedl.tl.integration import combat, harmony


class PCAModel(TrainedModel):
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

    def own_state(self) -> dict:
        return {
            "batch_key": self.batch_key,
            "seed": self.seed,
            "gene_names": self.gene_names,
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
