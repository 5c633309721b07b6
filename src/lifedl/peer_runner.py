"""The scvi-tools side of the peers (``lifedl.models.peers``): run as ``python -m lifedl.peer_runner '<json>'`` by the
interpreter of scvi-tools' own environment (``make bench-venv``); never imported by the workflow's.

Commands (the JSON's ``command``), files in and out:

- ``train``: ``h5ad`` (the data set's train and validation cells, counts in ``layers['counts']``, the split in
  ``obs['lifedl_split']``) -> the saved model in ``model_dir`` and ``metrics`` (JSON). SCVI, TOTALVI or PEAKVI
  trains on the train cells and stops early on the validation cells, as the workflow's own models do.
- ``map_query``: ``h5ad`` (the train and validation cells of reference and query, told apart by ``batch_key``'s
  ``reference`` value) -> scArches' mapping as scvi-tools' tutorial runs it: SCVI with its scArches settings
  trained on the reference, ``load_query_data`` (surgery), the query model trained on the query cells; the query
  model in ``model_dir`` and ``metrics`` (JSON, with ``fit_seconds`` of the surgery alone).
- ``embed``: ``model_dir``, ``h5ad`` -> the latent means (``output``, .npy).
- ``marginal_ll``: ``model_dir``, ``h5ad`` -> each cell's importance-weighted log-likelihood estimate
  (``n_samples`` samples; ``output``, .npy).
- ``solo``: ``model_dir`` (an SCVI model), ``h5ad`` -> SOLO's doublet probability of each cell (``output``, .npy).
"""

from __future__ import annotations

import json
import sys

import numpy as np

MODELS = {"scvi": "SCVI", "totalvi": "TOTALVI", "peakvi": "PEAKVI", "scvi_scarches": "SCVI", "scvi_solo": "SCVI"}
# scvi-tools' scArches tutorial: layer norm instead of batch norm, the batch fed to the encoder too
ARCHES_SETTINGS = {"use_layer_norm": "both", "use_batch_norm": "none", "encode_covariates": True, "dropout_rate": 0.2}
PROTEIN_KEY = "protein_counts"


# The network's sizes each model takes (TOTALVI: separate encoder and decoder depths, no n_layers; PEAKVI: its own,
# from the number of regions)
NETWORK_SIZES = {
    "scvi": ("n_latent", "n_hidden", "n_layers"),
    "totalvi": ("n_latent", "n_hidden", "n_layers_encoder", "n_layers_decoder"),
    "peakvi": (),
    "scvi_scarches": ("n_latent", "n_hidden", "n_layers"),
    "scvi_solo": ("n_latent", "n_hidden", "n_layers"),
}


def _model_class(arch: str):
    import scvi

    return getattr(scvi.model, MODELS[arch])


def _setup(model_class, adata, arch: str, batch_key: str) -> None:
    keys = {"layer": "counts", "batch_key": batch_key or None}
    if arch == "totalvi":
        keys["protein_expression_obsm_key"] = PROTEIN_KEY
    model_class.setup_anndata(adata, **keys)


def _split_argument(model, indices) -> dict:
    """lifedl's train / validation / test rows: TOTALVI.train takes them itself, SCVI.train through its splitter."""
    import inspect

    if "external_indexing" in inspect.signature(model.train).parameters:
        return {"external_indexing": indices}
    return {"datasplitter_kwargs": {"external_indexing": indices}}


def _train_early_stopped(model, split, params: dict, max_epochs: int, **arguments) -> None:
    """scvi-tools' training on lifedl's split (``split``: one name per cell), stopped early on the validation cells."""
    indices = [np.flatnonzero(split == name) for name in ("train", "validation", "test")]
    model.train(
        max_epochs=max_epochs,
        batch_size=params["batch_size"],
        early_stopping=True,
        early_stopping_patience=params["patience"],
        accelerator="cpu",
        devices=1,
        enable_progress_bar=False,
        **_split_argument(model, indices),
        **arguments,
    )


def train(h5ad: str, model_dir: str, metrics: str, arch: str, params: dict, batch_key: str, seed: int) -> None:
    import anndata as ad
    import scvi

    scvi.settings.seed = seed
    adata = ad.read_h5ad(h5ad)
    split = adata.obs["lifedl_split"].astype(str).to_numpy()
    model_class = _model_class(arch)
    _setup(model_class, adata, arch, batch_key)
    sizes = {key: params[key] for key in NETWORK_SIZES[arch]}
    model = model_class(adata, **sizes, **({"gene_likelihood": "nb"} if MODELS[arch] == "SCVI" else {}))
    _train_early_stopped(model, split, params, params["max_epochs"])
    model.save(model_dir, overwrite=True)
    history = model.history.get("validation_loss")
    result = {
        "epochs_trained": float(len(model.history["train_loss"])),
        "best_val_loss": float(history.min().iloc[0]) if history is not None else float("nan"),
        "n_train_cells": float((split == "train").sum()),
        "n_val_cells": float((split == "validation").sum()),
    }
    with open(metrics, "w") as handle:
        json.dump(result, handle)


def map_query(
    h5ad: str, model_dir: str, metrics: str, arch: str, params: dict, batch_key: str, reference: str, seed: int
) -> None:
    import time

    import anndata as ad
    import scvi

    scvi.settings.seed = seed
    adata = ad.read_h5ad(h5ad)
    is_reference = adata.obs[batch_key].astype(str).to_numpy() == reference
    reference_cells, query_cells = adata[is_reference].copy(), adata[~is_reference].copy()
    scvi.model.SCVI.setup_anndata(reference_cells, layer="counts", batch_key=batch_key)
    sizes = {key: params[key] for key in NETWORK_SIZES[arch]}
    model = scvi.model.SCVI(reference_cells, **sizes, gene_likelihood="nb", **ARCHES_SETTINGS)
    _train_early_stopped(model, reference_cells.obs["lifedl_split"].to_numpy(), params, params["max_epochs"])
    started = time.perf_counter()
    scvi.model.SCVI.prepare_query_anndata(query_cells, model)
    query = scvi.model.SCVI.load_query_data(query_cells, model)
    split = query_cells.obs["lifedl_split"].to_numpy()
    # the tutorial's query training: no weight decay, so that the frozen reference weights stay as they were
    _train_early_stopped(query, split, params, params["query_max_epochs"], plan_kwargs={"weight_decay": 0.0})
    fit_seconds = time.perf_counter() - started
    query.save(model_dir, overwrite=True)
    result = {
        "reference_epochs_trained": float(len(model.history["train_loss"])),
        "epochs_trained": float(len(query.history["train_loss"])),
        "n_reference_cells": float(is_reference.sum()),
        "n_query_cells": float((~is_reference).sum()),
        "fit_seconds": fit_seconds,
    }
    with open(metrics, "w") as handle:
        json.dump(result, handle)


def _load(model_dir: str, h5ad: str, arch: str):
    import anndata as ad

    adata = ad.read_h5ad(h5ad)
    return _model_class(arch).load(model_dir, adata=adata, accelerator="cpu"), adata


def embed(model_dir: str, h5ad: str, output: str, arch: str) -> None:
    model, adata = _load(model_dir, h5ad, arch)
    np.save(output, np.asarray(model.get_latent_representation(adata), dtype=np.float32))


def marginal_ll(model_dir: str, h5ad: str, output: str, arch: str, n_samples: int, seed: int) -> None:
    import scvi

    scvi.settings.seed = seed
    model, adata = _load(model_dir, h5ad, arch)
    values = model.get_marginal_ll(adata, n_mc_samples=n_samples, return_mean=False)
    np.save(output, np.asarray(values.cpu().numpy() if hasattr(values, "cpu") else values, dtype=np.float64))


def solo(model_dir: str, h5ad: str, output: str, arch: str, params: dict, seed: int) -> None:
    """SOLO as scvi-tools' tutorial runs it on the SCVI model: doublets simulated from the cells of ``h5ad``
    (``doublet_ratio`` per cell), its classifier trained on them against those cells with its own validation
    split and early stopping; each cell's doublet probability."""
    import scvi

    scvi.settings.seed = seed
    model, adata = _load(model_dir, h5ad, arch)
    classifier = scvi.external.SOLO.from_scvi_model(model, adata=adata, doublet_ratio=params["doublet_ratio"])
    classifier.train(max_epochs=params["solo_max_epochs"], accelerator="cpu", devices=1, enable_progress_bar=False)
    np.save(output, classifier.predict(soft=True)["doublet"].to_numpy(dtype=np.float64))


COMMANDS = {"train": train, "map_query": map_query, "embed": embed, "marginal_ll": marginal_ll, "solo": solo}

if __name__ == "__main__":
    arguments = json.loads(sys.argv[1])
    COMMANDS[arguments.pop("command")](**arguments)
