"""What a trained model provides, the helpers models share, and the checkpoint format.

A trained model embeds cells (``embed``) and turns itself into a checkpoint dict
(``checkpoint``); ``load_model`` reads a checkpoint file back through the registry,
so a checkpoint alone is enough to embed new cells.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import anndata as ad
import numpy as np
import scipy.sparse as sp
import torch

from lifedl.errors import LifedlError
from lifedl.io import atomic_path


class TrainedModel(Protocol):
    arch: str
    gene_names: list[str]
    params: dict[str, Any]
    final_metrics: dict[str, float]

    def embed(self, adata: ad.AnnData) -> np.ndarray: ...

    def checkpoint(self) -> dict[str, Any]: ...


def counts_matrix(adata: ad.AnnData, gene_names: list[str] | None = None) -> sp.csr_matrix:
    """``layers['counts']`` as float32 CSR, with genes in the order a trained model expects."""
    if "counts" not in adata.layers:
        raise LifedlError("the AnnData has no layers['counts']; run it through the download and qc rules first.")
    if gene_names is not None and list(adata.var_names) != list(gene_names):
        missing = [g for g in gene_names if g not in adata.var_names]
        if missing:
            raise LifedlError(
                f"the cells to embed lack {len(missing)} of the model's {len(gene_names)} genes "
                f"(e.g. {missing[:5]}); embed cells measured on the same genes."
            )
        adata = adata[:, gene_names]
    return sp.csr_matrix(adata.layers["counts"], dtype=np.float32)


def log_normalise(counts: sp.csr_matrix, target_sum: float = 1e4) -> sp.csr_matrix:
    """log1p(counts / library size * target_sum), as scanpy's normalize_total + log1p."""
    library_size = np.asarray(counts.sum(axis=1)).ravel()
    scale = np.divide(target_sum, library_size, out=np.zeros_like(library_size), where=library_size > 0)
    normalised = sp.diags(scale.astype(np.float32)) @ counts
    normalised.data = np.log1p(normalised.data)
    return sp.csr_matrix(normalised)


def network_checkpoint(model: TrainedModel, network: torch.nn.Module, **extra: Any) -> dict[str, Any]:
    """The checkpoint fields every trained network shares, plus the model's own ``extra`` ones."""
    return {
        "arch": model.arch,
        "params": model.params,
        "gene_names": model.gene_names,
        **extra,
        "state_dict": network.state_dict(),
        "final_metrics": model.final_metrics,
    }


def save_checkpoint(model: TrainedModel, path: str | os.PathLike) -> None:
    # Through a Python file object, so a full disk raises OSError (ENOSPC), which atomic_path reports.
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save({"lifedl_arch": model.arch, **model.checkpoint()}, handle)


def load_model(path: str | os.PathLike) -> TrainedModel:
    """Load any lifedl checkpoint back into a model that can embed new cells."""
    from lifedl.models import get_architecture

    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise LifedlError(f"{path}: not a readable checkpoint ({error}); rerun the train rule for it.") from error
    if not isinstance(checkpoint, dict) or "lifedl_arch" not in checkpoint:
        raise LifedlError(f"{path}: not a lifedl checkpoint (no 'lifedl_arch' entry).")
    return get_architecture(checkpoint["lifedl_arch"]).from_checkpoint(checkpoint)
