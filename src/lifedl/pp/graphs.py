"""QC of molecule data sets: every SMILES parses, and a summary for the report (no filters)."""

from __future__ import annotations

import anndata as ad
import numpy as np

from lifedl.data.graphs import SMILES, parse_smiles
from lifedl.errors import LifedlError


def graph_qc(adata: ad.AnnData, spec) -> None:
    """Check the molecules (a SMILES column RDKit parses) and record ``uns['qc']``."""
    if SMILES not in adata.obs:
        raise LifedlError(f"{spec.where}: no obs['{SMILES}']; a graphs data set holds each molecule's SMILES.")
    atoms = np.array([molecule.GetNumAtoms() for molecule in parse_smiles(adata.obs[SMILES], spec.where)])
    summary = f"{adata.n_obs} molecules of {atoms.min()}-{atoms.max()} heavy atoms (median {np.median(atoms):g})"
    if spec.split:
        summary += f", {int(spec.is_test(adata).sum())} held out as test"
    adata.uns["qc"] = {"n_rows": adata.n_obs, "summary": f"QC checked {summary}."}
    print(f"QC: {summary}", flush=True)
