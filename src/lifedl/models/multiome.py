"""The joint representation of the RNA and chromatin accessibility of the same cells (data kind ``cells+peaks``):
``multiome_vae`` (``lifedl.nn.multiome``), beside PCA of the RNA alone (the cells family's baseline, which reads the
RNA of these cells too)."""

from __future__ import annotations

from typing import Any

import anndata as ad
import numpy as np
import scipy.sparse as sp
import torch

from lifedl.data.batches import predict_batches
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel
from lifedl.nn.multiome import RnaAtacVAE
from lifedl.pp.counts import model_counts

PEAK_KEY = "peak_counts"


def peak_counts(adata: ad.AnnData, regions: list[str], where: str) -> sp.csr_matrix:
    """The cells' counts of these regions (obsm['peak_counts'], columns named by uns['peak_regions'])."""
    if PEAK_KEY not in adata.obsm:
        raise LifedlError(f"{where}: no obsm['{PEAK_KEY}']; a cells+peaks data set holds its region counts there.")
    names = [str(name) for name in adata.uns.get("peak_regions", ())]
    index = {name: column for column, name in enumerate(names)}
    missing = [region for region in regions if region not in index]
    if missing:
        raise LifedlError(f"{where}: {len(missing)} of the model's regions are not in the data (e.g. {missing[:3]}).")
    return sp.csr_matrix(adata.obsm[PEAK_KEY])[:, [index[region] for region in regions]]


class MultiomeModel(TrainedModel):
    def __init__(self, network: RnaAtacVAE, params, gene_names, regions, final_metrics=None):
        self.arch, self.network, self.params = "multiome_vae", network.eval(), dict(params)
        self.gene_names, self.regions = list(gene_names), list(regions)
        self.final_metrics = dict(final_metrics or {})

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        arrays = {
            "counts": model_counts(adata, self.gene_names, what="the cells to embed"),
            "peaks": peak_counts(adata, self.regions, "the cells to embed"),
        }
        self.network.eval()
        return predict_batches(lambda batch: self.network.embed(batch["counts"], batch["peaks"]), arrays)

    def own_state(self) -> dict[str, Any]:
        return {"gene_names": self.gene_names, "regions": self.regions, "state_dict": self.network.state_dict()}


def _network(params: dict, n_genes: int, n_regions: int) -> RnaAtacVAE:
    return RnaAtacVAE(n_genes, n_regions, params["n_latent"], params["n_hidden"], params["n_layers"], params["dropout"])


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "multiome_vae") -> Setup:
    regions = [str(name) for name in adata.uns.get("peak_regions", ())]
    peaks = peak_counts(adata, regions, spec.where)
    with torch.random.fork_rng():  # the initial weights depend on the seed only
        torch.manual_seed(seed)
        network = _network(params, adata.n_vars, len(regions))

    def finish(result: FitResult) -> MultiomeModel:
        return MultiomeModel(network, params, adata.var_names, regions, result.metrics)

    arrays = {"counts": model_counts(adata, what=spec.where), "peaks": peaks}
    return Setup(network=network, arrays=arrays, finish=finish)


def from_checkpoint(checkpoint: dict) -> MultiomeModel:
    params = checkpoint["params"]
    network = _network(params, len(checkpoint["gene_names"]), len(checkpoint["regions"]))
    network.load_state_dict(checkpoint["state_dict"])
    return MultiomeModel(network, params, checkpoint["gene_names"], checkpoint["regions"], checkpoint["final_metrics"])
