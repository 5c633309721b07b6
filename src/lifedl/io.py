"""Atomic file output: write to a temporary name in the same directory, then rename.

A killed or failed job therefore never leaves a half-written file that looks finished, and the
finished file has the permissions the umask gives (0644 under the usual 022), so colleagues can read it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anndata as ad

from lifedl.errors import LifedlError

WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR}
# The path itself is wrong (a directory, or a file where a folder on its way should be), not the disk.
PATH_ERRNOS = {errno.ENOTDIR, errno.EISDIR, errno.EEXIST}


def current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    A failed write (disk full, read-only or missing directory) becomes a LifedlError
    naming the file, and the partial temporary file is removed.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        yield tmp
        # mkstemp makes the file 0600 whatever the umask; give it the mode any other tool's output gets
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except OSError as error:
        if error.errno not in WRITE_ERRNOS | PATH_ERRNOS:
            raise
        fix = (
            "The path must name a file, and each folder on its way a folder, not a file: give another path (e.g. "
            "runs/model.ckpt)"
            if error.errno in PATH_ERRNOS
            else "Free disk space on that file system or make the results directory writable, then rerun"
        )
        raise LifedlError(
            f"cannot write {path}: {error.strerror or error}. {fix} (nothing half-written was kept)."
        ) from error
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def read_h5ad_counts(path: str | os.PathLike) -> ad.AnnData:
    """A raw.h5ad without its X: obs, var, obsm, uns and ``layers['counts']`` only.

    In raw.h5ad X is a second copy of the counts, and QC rebuilds X from the counts anyway; not reading it
    halves the memory QC starts from (2 GiB of 4 at 1.3M cells x 2,000 genes).
    """
    import h5py
    from anndata.io import read_elem

    with h5py.File(path, "r") as file:
        if "layers/counts" not in file:
            raise LifedlError(
                f"{path} has no layers['counts']: raw.h5ad must hold the integer counts there "
                "(lifedl.data.load_source writes them); rerun the download rule for this data set."
            )
        parts = {key: read_elem(file[key]) for key in ("obs", "var", "obsm", "uns") if key in file}
        return ad.AnnData(layers={"counts": read_elem(file["layers/counts"])}, **parts)


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp, compression="lzf")


def write_json(obj: dict, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_tsv(frame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False)


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix.lstrip("."))
    plt.close(fig)
