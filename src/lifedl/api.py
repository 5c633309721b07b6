"""The library as a notebook uses it, the scanpy / scvi-tools way::

    import lifedl
    model = lifedl.fit(adata, "vae", likelihood="zinb", batch="batch", work_dir="runs")
    model.embed(adata)                 # writes adata.obsm["X_vae"]
    model.save("vae.ckpt")
    model = lifedl.load("vae.ckpt")

``adata`` holds what the workflow's qc.h5ad holds: for cells the integer counts in
``layers['counts']`` (a scanpy object after your own QC will do), for sequences the codes in
``X``. The data set's roles (labels, batch, ...) come from ``uns['lifedl_dataset']`` when the
data carries them (files of the workflow do), and the keyword arguments override them.
No MLflow run is made; the workflow's train rule does that.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np

from lifedl.data.splits import SPLIT_KEY
from lifedl.errors import LifedlError

# What lifedl.fit's ``training`` may set (lifedl.train.context.TrainingContext's fields a user chooses).
TRAINING_KEYS = ("accelerator", "devices", "precision", "num_workers")
# What each data kind holds, for the message that refuses an architecture of another kind.
KIND_CONTENTS = {
    "cells": "integer counts in layers['counts']",
    "cells+protein": "integer counts in layers['counts'] and surface-protein counts in obsm['protein_counts']",
    "sequences": "sequence codes in X, as lifedl.data.sequences makes them",
    "graphs": "molecules' SMILES in obs['smiles']",
}


class Model:
    """A trained lifedl model: ``embed`` (representations), ``predict_proba`` (classifiers), ``generate``,
    ``sample`` or ``predict`` where the architecture has them, ``save``; every attribute of the underlying
    model (e.g. ``final_metrics``, ``network``) is reachable on it."""

    def __init__(self, trained, work_dir: Path | None = None):
        self.trained = trained
        self.work_dir = work_dir  # the fit's own directory of intermediate checkpoints
        self.history = None  # per-epoch losses of the fit that made it (lifedl.fit); None for a loaded model

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["trained"], name)

    def __repr__(self) -> str:
        return f"lifedl.Model({self.trained.arch!r}, params={self.trained.params})"

    def embed(self, adata: ad.AnnData, key: str | None = None) -> np.ndarray:
        """The representation of ``adata``'s cells, also stored in ``adata.obsm[key]`` (default ``X_<arch>``)."""
        embedding = self.trained.embed(_anndata(adata, "Model.embed(adata)"))
        adata.obsm[key or f"X_{self.trained.arch}"] = embedding
        return embedding

    def save(self, path: str | os.PathLike) -> None:
        from lifedl.models.base import save_checkpoint

        save_checkpoint(self.trained, path)


def fit(
    adata: ad.AnnData,
    arch: str,
    *,
    work_dir: str | os.PathLike | None = None,
    seed: int = 0,
    roles: dict[str, str] | None = None,
    training: dict[str, Any] | None = None,
    callbacks: list | None = None,
    models: dict[str, Model] | None = None,
    layer: str | None = None,
    threads: int | None = None,
    **params: Any,
) -> Model:
    """Train architecture ``arch`` (``lifedl.models.ARCHITECTURES``) on ``adata``.

    ``params`` override the architecture's defaults (unknown names and wrong types are errors);
    ``roles`` names obs columns and values, e.g. ``{"labels": "cell_type", "batch": "batch"}``
    (``lifedl.data.spec.DatasetSpec``); ``training`` sets accelerator, devices, precision, num_workers;
    ``models``: trained models the architecture uses, by name (``dqn_oracle`` designs for a ``cnn``);
    ``layer``: where the raw counts are, ``"X"`` or a layer's name (default: ``layers['counts']``);
    ``threads``: torch's CPU threads during the fit (default: the cores available, at most 4; more threads than
    free cores make training many times slower on a busy machine).
    ``Model.history`` holds the per-epoch losses.
    The model trains on ``obs['lifedl_split']``'s train rows and stops early on its validation rows; an AnnData
    without that column gets one (``lifedl.data.splits.add_splits``, in place), so its test rows stay unseen.
    Intermediate checkpoints go to a new directory of its own inside ``work_dir``, kept there, never the
    current folder, so fits never see each other's files; without ``work_dir`` they go to the system's
    temporary directory and are removed when the fit ends.
    """
    from lifedl.data.sequences import alphabet_name, alphabet_of
    from lifedl.data.spec import DatasetSpec
    from lifedl.models import get_architecture
    from lifedl.train.context import TrainingContext
    from lifedl.train.plans import fit_architecture

    adata = _anndata(adata, "lifedl.fit(adata, ...)")
    architecture = get_architecture(arch)
    spec = DatasetSpec.from_adata(adata, file="the AnnData passed to lifedl.fit")
    # defaults by alphabet (peptides: one token per amino acid), as the train rule resolves them
    alphabet = alphabet_name(alphabet_of(adata)) if spec.kind == "sequences" else ""
    resolved = architecture.resolve_params(
        params, where=f"lifedl.fit(..., '{arch}') keyword arguments", alphabet=alphabet
    )
    spec = spec.with_roles(adata, dict(roles or {}), "lifedl.fit(..., roles=...)")
    _check_fits(adata, architecture, spec)
    _check_training(training or {})
    counts = _with_counts_from(adata, layer)
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    own_dir = Path(tempfile.mkdtemp(prefix=f"lifedl-{arch}-", dir=work_dir))
    history = EpochHistory()
    context = TrainingContext(
        seed=seed,
        work_dir=own_dir,
        callbacks=list(callbacks or []),
        recorder=history,
        source=spec.where,
        models={name: model.trained if isinstance(model, Model) else model for name, model in (models or {}).items()},
        **(training or {}),
    )
    import torch

    before = torch.get_num_threads()
    # the cores this process may use (os.sched_getaffinity is Linux's; macOS has only cpu_count)
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(threads or min(4, available))
    failed = True
    try:
        trained = fit_architecture(counts, arch, resolved, context, spec)
        failed = False
    finally:
        torch.set_num_threads(before)
        if counts is not adata and SPLIT_KEY in counts.obs:  # the split written where the user looks for it
            adata.obs[SPLIT_KEY] = counts.obs[SPLIT_KEY]
        if work_dir is None or failed:  # a failed fit leaves no folder behind
            shutil.rmtree(own_dir, ignore_errors=True)
    model = Model(trained, own_dir if work_dir is not None else None)
    model.history = history.table()
    return model


class EpochHistory:
    """What a fit logs per epoch (losses, validation measures), kept in memory: ``lifedl.fit``'s MLflow run."""

    def __init__(self):
        self.rows: dict[int, dict[str, float]] = {}

    def log_metrics(self, metrics, step: int | None = None) -> None:
        self.rows.setdefault(step or 0, {}).update(metrics)

    def log_params(self, params) -> None:
        """Nothing to keep: the model holds its parameters."""

    def logged_steps(self, key: str) -> set[int]:
        return {step for step, row in self.rows.items() if key in row}

    def table(self):
        import pandas as pd

        return pd.DataFrame.from_dict(self.rows, orient="index").rename_axis("epoch").reset_index()


def _with_counts_from(adata: ad.AnnData, layer: str | None) -> ad.AnnData:
    """``adata`` with its raw counts in ``layers['counts']``, where every model reads them: itself, or (``layer``
    given) a shallow AnnData sharing its obs, var and obsm with the counts taken from X or that layer."""
    if layer is None or layer == "counts":
        return adata
    if layer != "X" and layer not in adata.layers:
        raise LifedlError(
            f"lifedl.fit(..., layer='{layer}'): the AnnData has no such layer (layers: {list(adata.layers)}); "
            "name the layer holding the raw counts, or 'X'."
        )
    counts = adata.X if layer == "X" else adata.layers[layer]
    copy = ad.AnnData(obs=adata.obs.copy(), var=adata.var, obsm=dict(adata.obsm), uns=dict(adata.uns))
    copy.layers["counts"] = counts
    return copy


def _anndata(adata, where: str) -> ad.AnnData:
    """``adata`` itself, once known to be an AnnData (a DataFrame failed deep inside with an AttributeError)."""
    if not isinstance(adata, ad.AnnData):
        raise LifedlError(
            f"{where}: got a {type(adata).__name__}, not an AnnData; make one from a cells x genes table of counts, "
            "e.g. adata = anndata.AnnData(table); adata.layers['counts'] = adata.X.copy()."
        )
    return adata


def _check_fits(adata: ad.AnnData, architecture, spec) -> None:
    """The data is of the kind the architecture reads, names the roles it needs and holds proteins a model can read:
    what the workflow's sheet and download check, here before any split is written or a model set up (which failed on
    a missing key)."""
    from lifedl.models import ARCHITECTURES
    from lifedl.pp.protein import check_proteins

    where = f"lifedl.fit(..., '{architecture.name}')"
    if not architecture.reads(spec.kind):
        fitting = [name for name, other in ARCHITECTURES.items() if other.reads(spec.kind)]
        raise LifedlError(
            f"{where}: '{architecture.name}' reads {architecture.data_kind} data "
            f"({KIND_CONTENTS[architecture.data_kind]}), but the AnnData holds {spec.kind} data; train one of the "
            f"architectures that read {spec.kind} ({', '.join(fitting)}), or pass data of the kind it reads."
        )
    # 'split' names the sheet's test rows; fit draws a split where the data has none
    missing = [role for role in architecture.missing_needs(dataclasses.asdict(spec)) if role != "split"]
    if missing:
        raise LifedlError(
            f"{where}: '{architecture.name}' needs the role(s) {missing}, which neither roles= nor the data's "
            f"uns['lifedl_dataset'] names; pass them, e.g. roles={{'{missing[0]}': ...}} (obs columns for labels, "
            "batch and condition; values for control and heldout)."
        )
    if architecture.data_kind == "cells+protein":  # as at download; before any subset, which repeated names break
        check_proteins(adata, spec.where)


def _check_training(training: dict[str, Any]) -> None:
    """Known settings only (a misspelt one was a TypeError), and no GPU asked for where there is none."""
    from lifedl.train.context import resolve_accelerator

    where = "lifedl.fit(..., training=...)"
    unknown = sorted(set(training) - set(TRAINING_KEYS))
    if unknown:
        raise LifedlError(f"{where}: unknown setting(s) {unknown}; the settings are {list(TRAINING_KEYS)}.")
    resolve_accelerator(
        str(training.get("accelerator", "auto")),
        setting=f"{where}: accelerator",
        fix="Pass training={'accelerator': 'cpu'} (or 'auto'), or run on a machine with a CUDA GPU.",
    )


def load(path: str | os.PathLike) -> Model:
    """A model saved by ``Model.save`` or trained by the workflow (``results/<dataset>/models/<arch>/model.ckpt``)."""
    from lifedl.models.base import load_model

    return Model(load_model(path))
