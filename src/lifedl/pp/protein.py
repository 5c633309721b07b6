"""Surface-protein counts of CITE-seq cells (data kind ``cells+protein``): where they live, their check and
their normalisation.

The proteins travel in the same AnnData as the RNA, as a cells x proteins DataFrame of antibody-derived
tag (ADT) counts in ``obsm['protein_counts']`` (the layout totalVI reads), so one h5ad file stays the
contract between rules and QC's cell selection keeps both modalities aligned.
"""

from __future__ import annotations

import sys

import anndata as ad
import numpy as np
import pandas as pd

from lifedl.errors import LifedlError
from lifedl.pp.counts import check_counts

PROTEIN_KEY = "protein_counts"


def protein_table(adata: ad.AnnData, where: str = "the data") -> pd.DataFrame:
    """``obsm['protein_counts']`` as a cells x proteins DataFrame, each protein named once (an array's columns are
    named by ``uns['protein_names']`` or ``protein_<i>``)."""
    if PROTEIN_KEY not in adata.obsm:
        raise LifedlError(
            f"{where} has no obsm['{PROTEIN_KEY}'] (surface-protein counts); a cells+protein data set needs them: "
            "a 10x .h5 with 'Antibody Capture' features, or a simulation with n_proteins > 0."
        )
    table = adata.obsm[PROTEIN_KEY]
    if not isinstance(table, pd.DataFrame):
        names = adata.uns.get("protein_names", [f"protein_{i}" for i in range(table.shape[1])])
        table = pd.DataFrame(np.asarray(table), index=adata.obs_names, columns=list(names))
    repeated = sorted({str(name) for name in table.columns[table.columns.duplicated()]})
    if repeated:  # a model reads each protein by its name: two columns under one name cannot be told apart
        raise LifedlError(
            f"{where} obsm['{PROTEIN_KEY}'] names {len(repeated)} protein(s) more than once (e.g. {repeated[:3]}); "
            "give each antibody one column (sum the repeats, or rename them, e.g. by their clone)."
        )
    return table


def protein_counts(adata: ad.AnnData, protein_names: list[str] | None = None, where: str = "the data") -> np.ndarray:
    """The cells' protein counts as float32 (cells x proteins), in the order ``protein_names`` if given, checked as
    counts (:func:`lifedl.pp.counts.check_counts`): what every model reads, to fit or embed."""
    table = protein_table(adata, where)
    if protein_names is not None:
        missing = [name for name in protein_names if name not in table.columns]
        if missing:
            raise LifedlError(
                f"{where} lacks {len(missing)} of the model's proteins (e.g. {missing[:5]}); use cells stained "
                "with the same antibody panel."
            )
        table = table[list(protein_names)]
    counts = table.to_numpy(dtype=np.float32)
    check_counts(counts, f"{where} obsm['{PROTEIN_KEY}']")
    return counts


def protein_names(adata: ad.AnnData, where: str = "the data") -> list[str]:
    return [str(name) for name in protein_table(adata, where).columns]


def check_proteins(adata: ad.AnnData, where: str) -> None:
    """Protein counts must be present, named once, finite non-negative integers, with more than one protein."""
    counts = protein_counts(adata, where=where)
    if counts.shape[1] < 2:
        raise LifedlError(f"{where}: {counts.shape[1]} protein(s); integrating modalities needs at least 2.")
    if not (counts.sum(axis=1) > 0).all():
        empty = int((counts.sum(axis=1) == 0).sum())
        print(f"lifedl warning: {where}: {empty} cells have no protein counts", file=sys.stderr, flush=True)


def clr(counts: np.ndarray) -> np.ndarray:
    """Centred log-ratio per cell across its proteins: log1p(x / exp(mean(log1p(x)))).

    Per cell (Seurat's margin 1, muon's axis 1), like library-size normalisation for RNA: it removes the
    cell's overall antibody capture, and a new cell is normalised without reference to other cells."""
    counts = np.asarray(counts, dtype=np.float64)
    geometric = np.exp(np.log1p(counts).mean(axis=1, keepdims=True))
    return np.log1p(counts / geometric).astype(np.float32)
