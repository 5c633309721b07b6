"""The simple methods for two modalities of the same cells (data kind ``cells+protein``), beside which the
integration autoencoders are judged:

- ``pca_protein``: PCA of the proteins alone (CLR per cell, scaled);
- ``pca_concat``: PCA of both modalities' scaled features side by side, each block weighted by
  1/sqrt(its number of features) so that 2,000 genes do not drown 14 proteins;
- ``wnn``: weighted nearest neighbours (Hao et al. 2021) on an RNA PCA and a protein PCA
  (``lifedl.tl.wnn``); its embedding is the two PCAs side by side, its graph is WNN's. Where the data set
  has batches, each PCA is batch-corrected by Harmony first (``lifedl.tl.integration``), as Seurat's WNN
  vignettes integrate before finding multimodal neighbours: the batch-aware multivae faces a batch-aware WNN.

PCA of RNA alone is the ``pca`` architecture.
"""

from __future__ import annotations

import anndata as ad
import numpy as np

from lifedl.data.splits import training_cells
from lifedl.models.base import Setup, TrainedModel
from lifedl.models.vae import batch_categories
from lifedl.pp.counts import log_normalise, model_counts
from lifedl.pp.pca import ScaledPCA
from lifedl.pp.protein import clr, protein_counts, protein_names
from lifedl.tl.integration import harmony


def modality_features(
    adata: ad.AnnData, gene_names, proteins, target_sum: float, where: str = "the cells"
) -> tuple[np.ndarray, np.ndarray]:
    """Log-normalised RNA and CLR protein, each cells x features, in a model's feature order."""
    rna = log_normalise(model_counts(adata, gene_names, where), target_sum).toarray()
    return rna, clr(protein_counts(adata, proteins, where))


class JointPCAModel(TrainedModel):
    def __init__(self, arch, gene_names, proteins, params, pcas: dict[str, ScaledPCA], batch_key="", seed=0):
        self.arch, self.gene_names, self.proteins = arch, list(gene_names), list(proteins)
        self.params, self.pcas = dict(params), pcas
        self.batch_key, self.seed = batch_key, seed  # wnn: Harmony on each PCA by this batch column
        self.final_metrics = {
            f"explained_variance_ratio_{name}": float(pca.explained_variance_ratio.sum()) for name, pca in pcas.items()
        }

    def _projections(self, adata: ad.AnnData) -> dict[str, np.ndarray]:
        rna, protein = modality_features(adata, self.gene_names, self.proteins, self.params["target_sum"])
        inputs = {"rna": rna, "protein": protein, "concat": np.hstack([rna, protein])}
        projections = {name: pca.transform(inputs[name]) for name, pca in self.pcas.items()}
        if self.batch_key:
            batches = adata.obs[self.batch_key].to_numpy()
            projections = {name: harmony(values, batches, self.seed) for name, values in projections.items()}
        return projections

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        return np.hstack(list(self._projections(adata).values()))

    def neighbor_graph(self, adata: ad.AnnData, n_neighbors: int):
        """WNN's graph (distances, connectivities); the modality weights go to obs ``wnn_rna_weight``."""
        if self.arch != "wnn":
            return None
        from lifedl.tl.wnn import knn_graph, wnn_neighbors

        projections = self._projections(adata)
        index, distance, weights = wnn_neighbors([projections["rna"], projections["protein"]], n_neighbors)
        adata.obs["wnn_rna_weight"] = weights[:, 0]
        print(f"WNN: mean RNA weight {weights[:, 0].mean():.2f} (protein {weights[:, 1].mean():.2f})", flush=True)
        return knn_graph(index, distance)

    def own_state(self) -> dict:
        return {
            "gene_names": self.gene_names,
            "proteins": self.proteins,
            "pcas": {name: pca.state() for name, pca in self.pcas.items()},
            "batch_key": self.batch_key,
            "seed": self.seed,
        }


def fit(
    adata: ad.AnnData, params: dict, seed: int, arch: str, batch_key: str = "", where: str = "the cells"
) -> JointPCAModel:
    """The PCAs of the training cells (train split); ``where`` names the data in errors."""
    proteins = protein_names(adata, where)
    training = training_cells(adata)
    rna, protein = modality_features(training, None, proteins, params["target_sum"], where)
    n_rna, n_protein, max_value = params["n_components"], params["n_protein_components"], params["max_value"]
    if arch == "pca_protein":
        pcas = {"protein": ScaledPCA.fit(protein, n_protein, max_value, seed)}
    elif arch == "pca_concat":
        weight = np.concatenate(
            [np.full(rna.shape[1], rna.shape[1] ** -0.5), np.full(len(proteins), len(proteins) ** -0.5)]
        )
        pcas = {"concat": ScaledPCA.fit(np.hstack([rna, protein]), n_rna, max_value, seed, weight)}
    else:  # wnn
        pcas = {
            "rna": ScaledPCA.fit(rna, n_rna, max_value, seed),
            "protein": ScaledPCA.fit(protein, n_protein, max_value, seed),
        }
    for name, pca in pcas.items():
        print(f"{arch}: {pca.summary(name)}", flush=True)
    corrected = arch == "wnn" and batch_key in adata.obs and bool(batch_categories(adata, batch_key, where))
    return JointPCAModel(arch, adata.var_names, proteins, params, pcas, batch_key if corrected else "", seed)


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str) -> Setup:
    return Setup(None, {}, lambda result: fit(adata, params, seed, arch, spec.batch, spec.where))


def from_checkpoint(checkpoint: dict) -> JointPCAModel:
    pcas = {name: ScaledPCA(**state) for name, state in checkpoint["pcas"].items()}
    return JointPCAModel(
        checkpoint["arch"],
        checkpoint["gene_names"],
        checkpoint["proteins"],
        checkpoint["params"],
        pcas,
        checkpoint.get("batch_key", ""),
        checkpoint.get("seed", 0),
    )
