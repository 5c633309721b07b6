"""Molecules as graphs (data kind ``graphs``): SMILES parsed by RDKit into atoms with features and bonds.

A data set of kind ``graphs`` holds one molecule per row of ``obs`` (its SMILES in ``obs['smiles']``,
the measured property and any other columns beside it; ``X`` is empty). Models turn the SMILES into
what they read: dense node features and a normalised adjacency per molecule (:func:`featurise`, for
graph convolutions) or Morgan fingerprints (:func:`morgan_fingerprints`, for the baseline).
"""

from __future__ import annotations

import io
import sys

import anndata as ad
import numpy as np
import pandas as pd

from lifedl.errors import LifedlError

SMILES = "smiles"
ELEMENTS = ("C", "N", "O", "F", "P", "S", "Cl", "Br", "I")  # and one slot for any other element
N_ATOM_FEATURES = len(ELEMENTS) + 1 + 5 + 3 + 1 + 4 + 3


def _rdkit():
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # unparsable SMILES are reported by lifedl, naming the row
    return Chem


def parse_smiles(smiles, where: str) -> list:
    """RDKit molecules of ``smiles``; any that RDKit cannot parse is an error naming its rows."""
    smiles = list(smiles)
    empty = [index for index, s in enumerate(smiles) if pd.isna(s) or not str(s).strip()]
    if empty:  # an empty cell read as NaN was reported as the unparsable SMILES 'nan'
        raise LifedlError(
            f"{where}: {len(empty)} molecule(s) have no SMILES (an empty cell; first: row {empty[0]}); fill in their "
            "SMILES or drop those rows."
        )
    Chem = _rdkit()
    molecules = [Chem.MolFromSmiles(str(s)) for s in smiles]
    bad = [index for index, molecule in enumerate(molecules) if molecule is None]
    if bad:
        raise LifedlError(
            f"{where}: RDKit cannot parse the SMILES of {len(bad)} molecule(s) (first: row {bad[0]}, "
            f"'{smiles[bad[0]]}'); fix or drop those rows."
        )
    return molecules


def _one_hot(value, choices) -> list[float]:
    return [float(value == choice) for choice in choices]


def atom_features(atom) -> list[float]:
    """Element (9 common ones + other), degree (0-4), formal charge (-1, 0, +1), aromaticity, attached
    hydrogens (0-3) and hybridisation (sp, sp2, sp3): one-hot, N_ATOM_FEATURES values."""
    from rdkit.Chem import HybridizationType

    symbol = atom.GetSymbol()
    return [
        *_one_hot(symbol, ELEMENTS),
        float(symbol not in ELEMENTS),
        *_one_hot(min(atom.GetDegree(), 4), range(5)),
        *_one_hot(max(-1, min(atom.GetFormalCharge(), 1)), (-1, 0, 1)),
        float(atom.GetIsAromatic()),
        *_one_hot(min(atom.GetTotalNumHs(), 3), range(4)),
        *_one_hot(atom.GetHybridization(), (HybridizationType.SP, HybridizationType.SP2, HybridizationType.SP3)),
    ]


def normalised_adjacency(adjacency: np.ndarray) -> np.ndarray:
    """Kipf & Welling's propagation matrix D^-1/2 (A + I) D^-1/2 of an n x n adjacency."""
    with_self = adjacency + np.eye(len(adjacency))
    inverse_root = 1 / np.sqrt(with_self.sum(axis=1))
    return with_self * inverse_root[:, None] * inverse_root[None, :]


def featurise(smiles, where: str) -> dict[str, np.ndarray]:
    """Dense graphs of the heavy atoms, zero-padded to the largest molecule's M atoms:
    ``features`` N x M x N_ATOM_FEATURES, ``adjacency`` N x M x M (normalised, see
    :func:`normalised_adjacency`; 0 on padding), ``mask`` N x M (1 on real atoms)."""
    molecules = parse_smiles(smiles, where)
    sizes = [molecule.GetNumAtoms() for molecule in molecules]
    width = max(sizes, default=0)
    n = len(molecules)
    features = np.zeros((n, width, N_ATOM_FEATURES), dtype=np.float32)
    adjacency = np.zeros((n, width, width), dtype=np.float32)
    mask = np.zeros((n, width), dtype=np.float32)
    for index, (molecule, size) in enumerate(zip(molecules, sizes)):
        features[index, :size] = [atom_features(atom) for atom in molecule.GetAtoms()]
        bonds = np.zeros((size, size))
        for bond in molecule.GetBonds():
            i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
            bonds[i, j] = bonds[j, i] = 1.0
        adjacency[index, :size, :size] = normalised_adjacency(bonds)
        mask[index, :size] = 1.0
    return {"features": features, "adjacency": adjacency, "mask": mask}


def morgan_fingerprints(smiles, where: str, radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """N x n_bits Morgan (ECFP-like) fingerprint bits."""
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    return np.stack([generator.GetFingerprintAsNumPy(m) for m in parse_smiles(smiles, where)]).astype(np.float32)


def scaffold_split(smiles, where: str, test_fraction: float = 0.2) -> np.ndarray:
    """'train' or 'test' per molecule by Bemis-Murcko scaffold (DeepChem's deterministic split): scaffold groups,
    largest first, fill the training set up to 1 - test_fraction of the molecules; the rest are test. No scaffold
    is in both, so the test molecules are new chemistry, harder than a random split."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    molecules = parse_smiles(smiles, where)
    groups: dict[str, list[int]] = {}
    for index, molecule in enumerate(molecules):
        groups.setdefault(MurckoScaffold.MurckoScaffoldSmiles(mol=molecule), []).append(index)
    split = np.full(len(molecules), "test", dtype=object)
    n_train, limit = 0, (1 - test_fraction) * len(split)
    for scaffold in sorted(groups, key=lambda s: (-len(groups[s]), s)):
        if n_train + len(groups[scaffold]) > limit:
            break
        split[groups[scaffold]] = "train"
        n_train += len(groups[scaffold])
    return split.astype(str)


def _no_smiles_column(columns: list, where: str, smiles_column: str) -> str:
    """Why a CSV has no SMILES column: another separator than commas (the whole header one column), or the
    column named otherwise."""
    separators = {";": "semicolons", "\t": "tabs", "|": "bars"}
    found = [name for separator, name in separators.items() if len(columns) == 1 and separator in str(columns[0])]
    if found:
        return (
            f"{where}: the header {str(columns[0])!r} reads as one column: the file is separated by {found[0]}, "
            "not commas; write it with commas (e.g. pandas' to_csv) or convert it (e.g. csvformat)."
        )
    return (
        f"{where}: no '{smiles_column}' column (columns: {columns}); name the column of SMILES strings "
        f"'{smiles_column}' in the header, exactly so."
    )


def molecules_from_csv(text: str, where: str, smiles_column: str = SMILES) -> ad.AnnData:
    """One ``graphs`` data set from a CSV with a SMILES column: every column goes to ``obs``, the SMILES
    are checked with RDKit; ``obs['scaffold_split']`` holds a scaffold split and ``obs['random_split']`` a
    random one (MoleculeNet's usual; seeded), each with 20 % test."""
    try:
        table = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise LifedlError(
            f"{where}: an empty file (no header, no rows); point the source at the CSV of molecules."
        ) from None
    except pd.errors.ParserError as error:
        raise LifedlError(
            f"{where}: not a comma-separated table ({error}); write it as CSV with one header line."
        ) from None
    if smiles_column not in table:
        raise LifedlError(_no_smiles_column(list(table.columns), where, smiles_column))
    table = table.rename(columns={smiles_column: SMILES})
    table["scaffold_split"] = pd.Categorical(scaffold_split(table[SMILES], where), categories=["train", "test"])
    test = np.random.default_rng(0).permutation(len(table)) < round(0.2 * len(table))
    table["random_split"] = pd.Categorical(np.where(test, "test", "train"), categories=["train", "test"])
    table.index = [f"mol{i}" for i in range(len(table))]
    adata = ad.AnnData(X=np.zeros((len(table), 0), dtype=np.float32), obs=table)
    held_out = int((table["scaffold_split"] == "test").sum())
    print(f"{where}: {len(table)} molecules, {held_out} test by scaffold, {int(test.sum())} at random", file=sys.stderr)
    return adata
