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

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np


class Model:
    """A trained lifedl model: ``embed`` (representations), ``predict_proba`` (classifiers), ``generate``,
    ``sample`` or ``predict`` where the architecture has them, ``save``; every attribute of the underlying
    model (e.g. ``final_metrics``, ``network``) is reachable on it."""

    def __init__(self, trained, work_dir: Path | None = None):
        self.trained = trained
        self.work_dir = work_dir  # the fit's own directory of intermediate checkpoints

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["trained"], name)

    def __repr__(self) -> str:
        return f"lifedl.Model({self.trained.arch!r}, params={self.trained.params})"

    def embed(self, adata: ad.AnnData, key: str | None = None) -> np.ndarray:
        """The representation of ``adata``'s cells, also stored in ``adata.obsm[key]`` (default ``X_<arch>``)."""
        embedding = self.trained.embed(adata)
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
    **params: Any,
) -> Model:
    """Train architecture ``arch`` (``lifedl.models.ARCHITECTURES``) on ``adata``.

    ``params`` override the architecture's defaults (unknown names and wrong types are errors);
    ``roles`` names obs columns and values, e.g. ``{"labels": "cell_type", "batch": "batch"}``
    (``lifedl.data.spec.DatasetSpec``); ``training`` sets accelerator, devices, precision, num_workers;
    ``models``: trained models the architecture uses, by name (``dqn_oracle`` designs for a ``cnn``).
    The model trains on ``obs['lifedl_split']``'s train rows and stops early on its validation rows; an AnnData
    without that column gets one (``lifedl.data.splits.add_splits``, in place), so its test rows stay unseen.
    Intermediate checkpoints go to a new directory of its own inside ``work_dir``, kept there, never the
    current folder, so fits never see each other's files; without ``work_dir`` they go to the system's
    temporary directory and are removed when the fit ends.
    """
    from lifedl.data.spec import DatasetSpec
    from lifedl.models import get_architecture
    from lifedl.train.context import TrainingContext
    from lifedl.train.plans import fit_architecture

    architecture = get_architecture(arch)
    resolved = architecture.resolve_params(params, where=f"lifedl.fit(..., '{arch}') keyword arguments")
    spec = DatasetSpec.from_adata(adata, file="the AnnData passed to lifedl.fit")
    spec = spec.with_roles(adata, dict(roles or {}), "lifedl.fit(..., roles=...)")
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    own_dir = Path(tempfile.mkdtemp(prefix=f"lifedl-{arch}-", dir=work_dir))
    context = TrainingContext(
        seed=seed,
        work_dir=own_dir,
        callbacks=list(callbacks or []),
        source=spec.where,
        models={name: model.trained if isinstance(model, Model) else model for name, model in (models or {}).items()},
        **(training or {}),
    )
    try:
        trained = fit_architecture(adata, arch, resolved, context, spec)
    finally:
        if work_dir is None:
            shutil.rmtree(own_dir, ignore_errors=True)
    return Model(trained, own_dir if work_dir is not None else None)


def load(path: str | os.PathLike) -> Model:
    """A model saved by ``Model.save`` or trained by the workflow (``results/<dataset>/models/<arch>/model.ckpt``)."""
    from lifedl.models.base import load_model

    return Model(load_model(path))
