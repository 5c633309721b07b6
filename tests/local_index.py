"""Local stand-ins for the internet in tests: an HTTP server on 127.0.0.1, a PEP 503 package index served by
it (wheels built here), and a JASPAR-shaped SQLite database of real motifs."""

import contextlib
import hashlib
import http.server
import io
import os
import sqlite3
import tarfile
import threading
import zipfile
from pathlib import Path

from lifedl.data.sequences import MOTIFS


@contextlib.contextmanager
def serving(root: Path):
    """Serve ``root`` over HTTP on 127.0.0.1 (a free port) until the block ends; yields the base URL."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def pip_environment(base_url: str) -> dict[str, str]:
    """Environment that points pip at the local index alone (no mirror or extra index from pip.conf)."""
    return {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": f"{base_url}/simple", "PIP_NO_CACHE_DIR": "1"}


def publish_wheel(root: Path, name: str, version: str, members: dict) -> str:
    """Build a wheel holding ``members`` (path in wheel -> bytes or text) into the index under ``root``;
    returns its sha256."""
    wheel = root / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")
    (root / "simple" / name).mkdir(parents=True, exist_ok=True)
    (root / "simple" / name / "index.html").write_text(f'<a href="../../{wheel.name}">{wheel.name}</a>')
    return hashlib.sha256(wheel.read_bytes()).hexdigest()


def publish_sdist(root: Path, name: str, version: str, members: dict) -> str:
    """Build a source distribution (``name-version.tar.gz``: a setup.py, PKG-INFO and ``members``, paths inside its
    ``name-version/`` folder) into the index under ``root``; returns its sha256."""
    sdist = root / f"{name}-{version}.tar.gz"
    files = {
        "setup.py": f"from setuptools import setup\nsetup(name={name!r}, version={version!r})\n",
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        **members,
    }
    with tarfile.open(sdist, "w:gz") as archive:
        for member, data in files.items():
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(f"{name}-{version}/{member}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (root / "simple" / name).mkdir(parents=True, exist_ok=True)
    (root / "simple" / name / "index.html").write_text(f'<a href="../../{sdist.name}">{sdist.name}</a>')
    return hashlib.sha256(sdist.read_bytes()).hexdigest()


# (row id, collection, base id, version, name, tax group, counts): two versions of CTCF, a plant and an
# unvalidated matrix that a vertebrate CORE query leaves out.
JASPAR_ROWS = [
    (1, "CORE", "MA0139", 1, "CTCF", "vertebrates", MOTIFS["CTCF"] * 100),
    (2, "CORE", "MA0139", 2, "CTCF", "vertebrates", MOTIFS["CTCF"] * 1000),
    (3, "CORE", "MA1115", 1, "POU5F1", "vertebrates", MOTIFS["POU5F1"] * 10),
    (4, "CORE", "MA0496", 1, "MAFK", "vertebrates", MOTIFS["MAFK"] * 10),
    (5, "CORE", "MA9999", 1, "PLANT1", "plants", MOTIFS["MAFK"] * 10),
    (6, "UNVALIDATED", "UN0001", 1, "ODD1", "vertebrates", MOTIFS["MAFK"] * 10),
]


def jaspar_database(path: Path) -> Path:
    """An SQLite file with JASPAR's tables (MATRIX, MATRIX_ANNOTATION, MATRIX_DATA) holding JASPAR_ROWS."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE MATRIX (ID INTEGER, COLLECTION TEXT, BASE_ID TEXT, VERSION INTEGER, NAME TEXT)")
        db.execute("CREATE TABLE MATRIX_ANNOTATION (ID INTEGER, TAG TEXT, VAL TEXT)")
        db.execute("CREATE TABLE MATRIX_DATA (ID INTEGER, ROW TEXT, COL INTEGER, VAL REAL)")
        for matrix, collection, base, version, name, tax, counts in JASPAR_ROWS:
            db.execute("INSERT INTO MATRIX VALUES (?, ?, ?, ?, ?)", (matrix, collection, base, version, name))
            db.execute("INSERT INTO MATRIX_ANNOTATION VALUES (?, 'tax_group', ?)", (matrix, tax))
            db.execute("INSERT INTO MATRIX_ANNOTATION VALUES (?, 'family', ?)", (matrix, f"{name} family"))
            for row, letter in enumerate("ACGT"):
                for column, value in enumerate(counts[row]):
                    db.execute("INSERT INTO MATRIX_DATA VALUES (?, ?, ?, ?)", (matrix, letter, column + 1, value))
    return path


# Small molecules of several scaffolds (chains, rings, aromatics, heteroatoms) with a planted additive property.
MOLECULES = [
    *["C", "CC", "CCC", "CCCC", "CCCCC", "CCCCCC", "CCO", "CCCO", "CCCCO", "CO", "CC(C)O", "CC(C)(C)O", "CN", "CCN"],
    *["CCCN", "CC(=O)O", "CCC(=O)O", "CCCl", "CCBr", "CF", "C1CCCCC1", "CC1CCCCC1", "OC1CCCCC1", "NC1CCCCC1"],
    *["C1CCCC1", "CC1CCCC1", "c1ccccc1", "Cc1ccccc1", "Oc1ccccc1", "Nc1ccccc1", "Clc1ccccc1", "CCc1ccccc1"],
    *["c1ccncc1", "Cc1ccncc1", "c1ccc2ccccc2c1", "Cc1ccc2ccccc2c1", "C1CCOC1", "CC1CCOC1", "C1CCNCC1", "CC1CCNCC1"],
    *["OCCO", "NCCN"],
]
CONTRIBUTION = {"C": 0.5, "N": -1.0, "O": -1.5, "Cl": 0.8, "Br": 1.0, "F": 0.2}


def planted_property(smiles: list[str]) -> list[float]:
    """Sum of per-element contributions plus 0.3 per ring: what a graph model with sum pooling can learn."""
    from lifedl.data.graphs import parse_smiles

    molecules = parse_smiles(smiles, "test molecules")
    return [
        sum(CONTRIBUTION[a.GetSymbol()] for a in m.GetAtoms()) + 0.3 * m.GetRingInfo().NumRings() for m in molecules
    ]


def molecules_csv() -> str:
    """MOLECULES as a FreeSolv-like CSV: smiles, the measured value (expt) and a 'calc' off by 0.5."""
    rows = [f"{s},{v:.3f},{v + 0.5:.3f}\n" for s, v in zip(MOLECULES, planted_property(MOLECULES))]
    return "smiles,expt,calc\n" + "".join(rows)
