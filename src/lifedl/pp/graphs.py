"""QC of molecule data sets: every SMILES parses, and a summary for the report (no filters)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from lifedl.data.graphs import SMILES, parse_smiles
from lifedl.errors import LifedlError


def graph_qc(adata: ad.AnnData, spec) -> None:
    """Check the molecules (a SMILES column RDKit parses, each molecule once) and the property to predict on
    every row, test rows included (a test row without one would leave every score empty), and record
    ``uns['qc']``."""
    if SMILES not in adata.obs:
        raise LifedlError(f"{spec.where}: no obs['{SMILES}']; a graphs data set holds each molecule's SMILES.")
    molecules = parse_smiles(adata.obs[SMILES], spec.where)
    _check_each_molecule_once(adata, molecules, spec)
    if spec.labels:
        _check_target(adata, spec)
    atoms = np.array([molecule.GetNumAtoms() for molecule in molecules])
    summary = f"{adata.n_obs} molecules of {atoms.min()}-{atoms.max()} heavy atoms (median {np.median(atoms):g})"
    if spec.split:
        summary += f", {int(spec.is_test(adata).sum())} held out as test"
    adata.uns["qc"] = {"n_rows": adata.n_obs, "summary": f"QC checked {summary}."}
    print(f"QC: {summary}", flush=True)


def _check_each_molecule_once(adata: ad.AnnData, molecules: list, spec) -> None:
    """One row per molecule (by canonical SMILES): a molecule in two rows could land in train and test."""
    from rdkit import Chem

    canonical = pd.Series([Chem.MolToSmiles(molecule) for molecule in molecules], index=adata.obs_names)
    repeated = canonical[canonical.duplicated(keep=False)]
    if len(repeated):
        first = repeated.iloc[0]
        rows = list(repeated.index[repeated == first])
        targets = f" (targets {list(adata.obs.loc[rows, spec.labels])})" if spec.labels in adata.obs else ""
        raise LifedlError(
            f"{spec.where}: {repeated.nunique()} molecule(s) appear in more than one row, e.g. {first} in rows "
            f"{rows}{targets}; a molecule in two rows could be trained on and scored at once. Keep one row per "
            "molecule (e.g. the mean of its measurements)."
        )


def _check_target(adata: ad.AnnData, spec) -> None:
    if spec.labels not in adata.obs:
        raise LifedlError(
            f"{spec.where}: the labels column '{spec.labels}' (the property to predict) is not in the data, which "
            f"has {list(adata.obs.columns)}; fix the 'labels' column of dataset '{spec.id}' in {spec.sheet}."
        )
    values = pd.to_numeric(adata.obs[spec.labels], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        shown = [f"{adata.obs_names[i]}: {adata.obs[spec.labels].iloc[i]}" for i in bad[:3]]
        raise LifedlError(
            f"{spec.where}: {len(bad)} row(s) lack a number in '{spec.labels}', the property to predict, e.g. "
            f"{shown}; every row needs one, test rows too (they are scored). Fill or drop those rows."
        )
