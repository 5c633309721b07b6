"""Reference mapping (seed 003's transfer learning; users: mapping a new sample onto a reference atlas). The data
set's ``condition`` column splits its cells into the reference (the ``control`` value) and the query (every other
value); the reference's labels are transferred to the query's cells by their neighbours in a shared space, and no
query label is read by any model (lifedl.steps.score.map_query scores them on the query's test cells).

- ``ingest``: the reference's PCA, the query projected onto it (scanpy's ``tl.ingest`` with its PCA embedding).
- ``reference_vae``: a count VAE trained on the reference cells alone, conditioned on their batch; query cells
  embedded as if they were reference cells (no adaptation: what surgery must improve on).
- ``scarches``: scArches' surgery (Lotfollahi et al. 2022) of the ``reference_vae`` of the same seed: the query's
  batches are new columns of the encoder's and the decoder's first layers, trained on the query cells alone with
  every reference weight frozen (lifedl.nn.surgery).
- ``retrained_vae``: the same VAE trained from scratch on reference and query together, conditioned on both: the
  costlier route surgery is meant to spare.

Each model's final metrics hold ``fit_seconds``, the time of its own fit: for scarches the surgery alone (the
reference is trained once for every query).
"""

from __future__ import annotations

import time

import anndata as ad
import numpy as np

from lifedl.data.splits import split_of
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel, model_from_state, model_state
from lifedl.models.pca import fit as fit_pca
from lifedl.models.vae import VAEModel, batch_codes, vae_network
from lifedl.nn.surgery import add_query_batches
from lifedl.pp.counts import model_counts

# the layers of the VAE (lifedl.models.vae.VAE, MLP decoder) whose input ends with the batch one-hot
BATCH_INPUT_LAYERS = ["encoder.body.0", "decoder_body.0"]
# what shapes that network (lifedl.models.vae.vae_network): scarches takes them from its reference
NETWORK_PARAMS = ("n_latent", "n_hidden", "n_layers", "dropout", "likelihood")


def reference_rows(adata: ad.AnnData, spec) -> np.ndarray:
    """The reference's cells: those whose ``condition`` is the ``control`` value (the rest are the query)."""
    if not spec.condition or spec.condition not in adata.obs:
        raise LifedlError(
            f"{spec.where}: reference mapping needs the 'condition' column (reference or query per cell) in the "
            f"datasets sheet and in obs; found condition '{spec.condition}'."
        )
    reference = (adata.obs[spec.condition].astype(str) == spec.control).to_numpy()
    if reference.all() or not reference.any():
        raise LifedlError(
            f"{spec.where}: obs['{spec.condition}'] has {int(reference.sum())} reference cell(s) (value "
            f"'{spec.control}', the sheet's 'control') among {adata.n_obs}; mapping needs both a reference and a query."
        )
    return reference


class MappedVAEModel(VAEModel):
    """A count VAE of the mapping family: ``reference_vae`` embeds a query cell as a reference cell (its batch
    unknown to it); ``scarches`` and ``retrained_vae`` know every batch. ``final_metrics`` hold ``fit_seconds``."""

    def __init__(self, *args, n_reference_batches: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_reference_batches = n_reference_batches  # scarches: the reference's batches, first in the one-hot

    def own_state(self) -> dict:
        return {**super().own_state(), "n_reference_batches": self.n_reference_batches}

    def fields(self, adata: ad.AnnData) -> dict[str, object]:
        if self.arch != "reference_vae":
            return super().fields(adata)
        # every cell in the reference's first batch: the reference model has no column for the query's
        return {"counts": model_counts(adata, self.gene_names), "batch": np.zeros(adata.n_obs, dtype=np.int64)}


class IngestModel(TrainedModel):
    """The reference's PCA (lifedl.models.pca, fitted on the reference's training cells); any cell projected."""

    def __init__(self, arch: str, params: dict, pca, final_metrics: dict | None = None):
        self.arch, self.params, self.pca = arch, dict(params), pca
        self.gene_names = pca.gene_names
        self.final_metrics = {**pca.final_metrics, **(final_metrics or {})}

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        return self.pca.embed(adata)

    def own_state(self) -> dict:
        return {"pca": model_state(self.pca), "gene_names": self.gene_names}


def _vae_setup(adata, params, spec, arch, rows, categories, network, started, n_reference_batches=0) -> Setup:
    codes = batch_codes(adata[rows], spec.condition, categories)
    arrays = {"counts": model_counts(adata[rows], what=spec.where), "batch": codes}

    def finish(result: FitResult) -> MappedVAEModel:
        metrics = {**result.metrics, "fit_seconds": time.perf_counter() - started}
        return MappedVAEModel(
            arch, network, adata.var_names, params, spec.condition, categories, (), metrics,
            n_reference_batches=n_reference_batches,
        )  # fmt: skip

    return Setup(network, arrays, finish, split=split_of(adata, spec.where)[rows])


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str, models=None) -> Setup:
    """``adata``: the training and validation cells of reference and query alike."""
    started = time.perf_counter()
    reference = reference_rows(adata, spec)
    query_batches = sorted(set(adata.obs[spec.condition].astype(str)[~reference]))
    print(
        f"{arch}: {int(reference.sum())} reference cells ('{spec.control}'), {int((~reference).sum())} query cells "
        f"({', '.join(query_batches)})",
        flush=True,
    )
    if arch == "ingest":

        def fit_ingest(_) -> IngestModel:
            pca = fit_pca(adata[reference].copy(), params, seed, where=spec.where)
            return IngestModel(arch, params, pca, {"fit_seconds": time.perf_counter() - started})

        return Setup(None, {}, fit_ingest)
    if arch == "reference_vae":
        network = vae_network(adata.n_vars, params, "mlp", 1, None)
        return _vae_setup(adata, params, spec, arch, reference, [spec.control], network, started)
    if arch == "retrained_vae":
        network = vae_network(adata.n_vars, params, "mlp", 1 + len(query_batches), None)
        everything = np.ones(adata.n_obs, dtype=bool)
        return _vae_setup(adata, params, spec, arch, everything, [spec.control, *query_batches], network, started)
    if arch != "scarches":
        raise LifedlError(f"lifedl.models.mapping has no architecture '{arch}'.")
    trained = models["reference_vae"]
    if list(trained.gene_names) != list(adata.var_names):
        raise LifedlError(f"{spec.where}: the reference_vae was trained on other genes; train it on this data set.")
    network = add_query_batches(trained.network, BATCH_INPUT_LAYERS, len(query_batches))
    categories = [*trained.batch_categories, *query_batches]
    # the network's shape is the reference's; scarches' own params say how the new columns train
    shaped = {**{key: trained.params[key] for key in NETWORK_PARAMS}, **params}
    n_reference = len(trained.batch_categories)
    return _vae_setup(adata, shaped, spec, arch, ~reference, categories, network, started, n_reference)


def from_checkpoint(checkpoint: dict) -> TrainedModel:
    arch, params, metrics = checkpoint["arch"], checkpoint["params"], checkpoint["final_metrics"]
    if arch == "ingest":
        return IngestModel(arch, params, model_from_state(checkpoint["pca"]), metrics)
    categories, n_reference = checkpoint["batch_categories"], checkpoint["n_reference_batches"]
    network = vae_network(len(checkpoint["gene_names"]), params, "mlp", n_reference or len(categories), None)
    if arch == "scarches":
        network = add_query_batches(network, BATCH_INPUT_LAYERS, len(categories) - n_reference)
    network.load_state_dict(checkpoint["state_dict"])
    return MappedVAEModel(
        arch, network, checkpoint["gene_names"], params, checkpoint["batch_key"], categories, (), metrics,
        n_reference_batches=n_reference,
    )  # fmt: skip
