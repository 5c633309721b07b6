"""Known transcription-factor motifs from a JASPAR release, to name what a CNN's filters learned.

JASPAR ships as an SQLite database inside the ``pyjaspar`` wheel (MIT; fetched like any ``pypi:``
source, never installed). :func:`read_jaspar` takes the newest version of every matrix of one
collection and taxonomic group as letter probabilities; :func:`write_motif_table` stores them as a
long table (one row per motif position) that colleagues can read without SQLite.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from lifedl.errors import LifedlError

ALPHABET = "ACGT"


@dataclasses.dataclass(frozen=True)
class Motif:
    matrix_id: str  # e.g. MA1115.1
    name: str  # the factor, e.g. POU5F1 (dimers: POU5F1::SOX2)
    family: str  # JASPAR's TF family annotation, e.g. POU domain factors
    pwm: np.ndarray  # 4 x width letter probabilities (rows A, C, G, T)


def read_jaspar(path: str | Path, tax_group: str = "vertebrates", collection: str = "CORE") -> list[Motif]:
    """The newest version of each matrix of ``collection`` annotated with ``tax_group``, sorted by matrix id."""
    path = Path(path)
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        with connection:
            newest = connection.execute(
                "SELECT m.ID, m.BASE_ID, m.VERSION, m.NAME FROM MATRIX m "
                "JOIN MATRIX_ANNOTATION t ON t.ID = m.ID AND t.TAG = 'tax_group' AND t.VAL = ? "
                "WHERE m.COLLECTION = ? AND m.VERSION = (SELECT MAX(VERSION) FROM MATRIX WHERE BASE_ID = m.BASE_ID "
                "AND COLLECTION = m.COLLECTION)",
                (tax_group, collection),
            ).fetchall()
            families = dict(connection.execute("SELECT ID, VAL FROM MATRIX_ANNOTATION WHERE TAG = 'family'"))
            counts = connection.execute("SELECT ID, ROW, COL, VAL FROM MATRIX_DATA").fetchall()
    except sqlite3.DatabaseError as error:
        raise LifedlError(f"{path}: not a readable JASPAR SQLite database ({error}).") from error
    if not newest:
        raise LifedlError(f"{path}: no {collection} matrices of tax group '{tax_group}'; check motif_database.")
    by_id: dict[int, list] = {}
    for matrix, row, column, value in counts:
        by_id.setdefault(matrix, []).append((ALPHABET.index(row.upper()), int(column) - 1, float(value)))
    motifs = []
    for matrix, base_id, version, name in newest:
        cells = by_id.get(matrix, [])
        width = 1 + max(column for _, column, _ in cells)
        table = np.zeros((4, width))
        for row, column, value in cells:
            table[row, column] = value
        pwm = table / np.clip(table.sum(axis=0, keepdims=True), 1e-12, None)
        motifs.append(Motif(f"{base_id}.{version}", name, families.get(matrix, ""), pwm))
    return sorted(motifs, key=lambda motif: motif.matrix_id)


def write_motif_table(motifs: list[Motif]) -> pd.DataFrame:
    """One row per motif position: matrix_id, name, family, position (from 1), then the probabilities of A C G T."""
    rows = [
        {"matrix_id": m.matrix_id, "name": m.name, "family": m.family, "position": j + 1, **dict(zip(ALPHABET, col))}
        for m in motifs
        for j, col in enumerate(m.pwm.T)
    ]
    return pd.DataFrame(rows)


def read_motif_table(path: str | Path) -> list[Motif]:
    """The motifs of a table file written from :func:`write_motif_table`."""
    return motifs_from_table(pd.read_csv(path, sep="\t", keep_default_na=False))


def motifs_from_table(table: pd.DataFrame) -> list[Motif]:
    """The motifs of a :func:`write_motif_table` table (an empty family may have been read as NaN)."""
    table = table.assign(family=table["family"].fillna(""), name=table["name"].fillna("").astype(str))
    motifs = []
    for (matrix_id, name, family), rows in table.groupby(["matrix_id", "name", "family"], sort=True):
        rows = rows.sort_values("position")
        motifs.append(Motif(matrix_id, name, family, rows[list(ALPHABET)].to_numpy(dtype=float).T))
    return motifs
