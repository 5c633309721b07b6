"""Representations of chromatin accessibility (data kind ``peaks``): TF-IDF + LSI, the field's baseline (Signac,
ArchR, muon), and a PeakVI-like VAE (``lifedl.nn.peakvi``).

``lsi`` fits TF-IDF and the SVD on the training cells and places every cell in that space; the component that
follows sequencing depth (correlation above ``depth_correlation_max`` with log depth, as Signac drops the first) is
left out of the embedding.
"""

from __future__ import annotations

from typing import Any

import anndata as ad
import numpy as np
import scipy.sparse as sp
import torch

from lifedl.data.batches import predict_batches
from lifedl.data.splits import TRAIN, split_of
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel
from lifedl.nn.peakvi import PeakVAE
from lifedl.tl.chromatin import LSI


def region_counts(adata: ad.AnnData, regions: list[str], where: str) -> sp.csr_matrix:
    """The cells' counts of the model's regions, in its order; missing regions are an error naming them."""
    missing = [region for region in regions if region not in adata.var_names]
    if missing:
        raise LifedlError(f"{where}: {len(missing)} of the model's regions are not in the data (e.g. {missing[:3]}).")
    subset = adata[:, regions]
    return sp.csr_matrix(subset.layers.get("counts", subset.X))


class LSIModel(TrainedModel):
    def __init__(self, params, lsi: LSI, regions, kept_components, final_metrics=None):
        self.arch, self.params, self.lsi = "lsi", dict(params), lsi
        # the features are regions; named gene_names as every count model's, which the MLflow pyfunc model reads
        self.gene_names, self.kept = list(regions), np.asarray(kept_components, dtype=np.int64)
        self.final_metrics = dict(final_metrics or {})

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        return self.lsi.scores(region_counts(adata, self.gene_names, "lsi"))[:, self.kept].astype(np.float32)

    def own_state(self) -> dict[str, Any]:
        state = {name: torch.from_numpy(np.asarray(value)) for name, value in vars(self.lsi).items()}
        return {"lsi": state, "regions": self.gene_names, "kept": torch.from_numpy(self.kept)}


class PeakVAEModel(TrainedModel):
    def __init__(self, network: PeakVAE, params, regions, final_metrics=None):
        self.arch, self.network, self.params = "peak_vae", network.eval(), dict(params)
        self.gene_names, self.final_metrics = list(regions), dict(final_metrics or {})  # regions (see LSIModel)

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        counts = region_counts(adata, self.gene_names, "peak_vae")
        self.network.eval()
        return predict_batches(lambda batch: self.network.embed(batch["counts"]), {"counts": counts})

    def own_state(self) -> dict[str, Any]:
        return {"regions": self.gene_names, "state_dict": self.network.state_dict()}


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "peak_vae") -> Setup:
    counts = sp.csr_matrix(adata.layers.get("counts", adata.X))
    regions = list(adata.var_names)
    split = split_of(adata, spec.where)
    if arch == "lsi":

        def finish(result) -> LSIModel:
            lsi = LSI.fit(counts[split == TRAIN], params["n_components"] + 1, seed)
            follows_depth = np.abs(lsi.depth_correlation) > params["depth_correlation_max"]
            kept = np.flatnonzero(~follows_depth)[: params["n_components"]]
            metrics = {"components_dropped_for_depth": float(follows_depth.sum())}
            metrics["first_component_depth_correlation"] = float(lsi.depth_correlation[0])
            return LSIModel(params, lsi, regions, kept, metrics)

        return Setup(network=None, arrays={}, finish=finish)
    with torch.random.fork_rng():  # the initial weights depend on the seed only
        torch.manual_seed(seed)
        network = PeakVAE(len(regions), params["n_latent"], params["n_hidden"], params["n_layers"], params["dropout"])

    def finish(result: FitResult) -> PeakVAEModel:
        return PeakVAEModel(network, params, regions, result.metrics)

    return Setup(network=network, arrays={"counts": counts}, finish=finish)


def from_checkpoint(checkpoint: dict):
    params = checkpoint["params"]
    if checkpoint["arch"] == "lsi":
        lsi = LSI(**{name: np.asarray(value) for name, value in checkpoint["lsi"].items()})
        return LSIModel(params, lsi, checkpoint["regions"], np.asarray(checkpoint["kept"]), checkpoint["final_metrics"])
    network = PeakVAE(
        len(checkpoint["regions"]), params["n_latent"], params["n_hidden"], params["n_layers"], params["dropout"]
    )
    network.load_state_dict(checkpoint["state_dict"])
    return PeakVAEModel(network, params, checkpoint["regions"], checkpoint["final_metrics"])
