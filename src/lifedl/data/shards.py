"""A data set larger than memory: its cells in h5ad shards on disk, read a block of rows at a time.

A sharded data set is a directory of ``.h5ad`` files (in name order), each an AnnData of some of the cells with
the same genes and a CSR count matrix in ``X``, as ``anndata.experimental.concat_on_disk`` or any writer leaves
them; nothing but anndata's own format. Rows are read through anndata's backed sparse datasets
(``anndata.io.sparse_dataset``): a block of consecutive rows is one read, and memory holds one block, not the data
set. QC and highly variable genes over the blocks are in ``lifedl.pp.shards``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata.io import read_elem, sparse_dataset

from lifedl.errors import LifedlError
from lifedl.io import atomic_path

BLOCK_ROWS = 50_000  # rows read at once: about 80 MB of CSR at 200 detected genes per cell


@dataclasses.dataclass(frozen=True)
class Shards:
    files: tuple[Path, ...]
    n_obs: tuple[int, ...]
    var_names: pd.Index

    @classmethod
    def open(cls, directory: str | Path) -> Shards:
        """The shards of a directory; every shard must hold the same genes, in the same order, as a CSR ``X``."""
        files = tuple(sorted(path for path in Path(directory).glob("*.h5ad") if not path.name.startswith(".")))
        if not files:
            raise LifedlError(f"{directory}: no .h5ad shards in it (a sharded data set is a directory of h5ad files).")
        n_obs, var_names = [], None
        for file in files:
            with h5py.File(file, "r") as handle:
                matrix = handle.get("X")
                if not isinstance(matrix, h5py.Group) or matrix.attrs.get("encoding-type") != "csr_matrix":
                    raise LifedlError(
                        f"{file}: X is not a CSR sparse matrix; write each shard with its counts as "
                        "scipy.sparse.csr_matrix (AnnData(X=csr).write_h5ad)."
                    )
                n_obs.append(int(matrix.attrs["shape"][0]))
                names = pd.Index(read_elem(handle["var"]).index)
            if var_names is None:
                var_names = names
            elif not names.equals(var_names):
                raise LifedlError(
                    f"{file}: its genes differ from {files[0].name}'s ({len(names)} against {len(var_names)}, or in "
                    "another order); every shard needs the same var_names in the same order."
                )
        return cls(files, tuple(n_obs), var_names)

    @property
    def n_cells(self) -> int:
        return sum(self.n_obs)

    @property
    def offsets(self) -> np.ndarray:
        """The first row of each shard in the whole data set."""
        return np.concatenate([[0], np.cumsum(self.n_obs)[:-1]]).astype(np.int64)

    def blocks(self, block_rows: int = BLOCK_ROWS) -> Iterator[tuple[int, sp.csr_matrix]]:
        """(first row in the data set, CSR block of consecutive rows), shard by shard."""
        for file, offset in zip(self.files, self.offsets, strict=True):
            with h5py.File(file, "r") as handle:
                matrix = sparse_dataset(handle["X"])
                for start in range(0, matrix.shape[0], block_rows):
                    yield int(offset) + start, matrix[start : start + block_rows]

    def read_shard(self, shard: int) -> sp.csr_matrix:
        """One shard's whole count matrix (a shard is the unit the training shuffles within)."""
        with h5py.File(self.files[shard], "r") as handle:
            return sparse_dataset(handle["X"])[:]

    def annotations(self) -> ad.AnnData:
        """The cells' obs and the genes' var with an empty count matrix in ``layers['counts']``: what a model's
        setup reads besides the counts (shapes, covariates), for a few bytes per cell."""
        with h5py.File(self.files[0], "r") as handle:
            var = read_elem(handle["var"])
        empty = sp.csr_matrix((self.n_cells, len(self.var_names)), dtype=np.float32)
        return ad.AnnData(obs=self.obs(), var=var, layers={"counts": empty})

    def obs(self) -> pd.DataFrame:
        """Every shard's obs, one after the other (the cells' annotations fit in memory; their counts need not)."""
        frames = []
        for file in self.files:
            with h5py.File(file, "r") as handle:
                frames.append(read_elem(handle["obs"]))
        return pd.concat(frames)


def write_shards(blocks: Iterator[ad.AnnData], directory: str | Path) -> Shards:
    """Write AnnData blocks (CSR ``X``, the same genes) as the shards of a new sharded data set."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for index, block in enumerate(blocks):
        block.X = sp.csr_matrix(block.X)
        with atomic_path(directory / f"shard_{index:05d}.h5ad") as tmp:  # a killed write leaves no half shard
            block.write_h5ad(tmp)
    return Shards.open(directory)


SHARDS_IN_MEMORY = 2  # shards whose cells are shuffled together: a batch mixes cells of two files (samples)


class ShardedCounts:
    """Some rows of a sharded data set's counts, as a field of ``lifedl.data.batches`` (a row per cell, sliced by
    a list of rows), read a shard at a time: the ``shards_in_memory`` shards read last stay in memory, and the
    shuffled sampler draws its batches from that many shards at a time (:meth:`blocks`), so each shard is read
    once per epoch and memory holds those shards, not the data set. Shards are often samples: shuffling two
    together keeps a batch from holding one sample's cells only.

    ``rows``: the data set's rows it holds, in order (default: all).
    """

    def __init__(self, shards: Shards, rows: np.ndarray | None = None, shards_in_memory: int = SHARDS_IN_MEMORY):
        self.shards, self.shards_in_memory = shards, shards_in_memory
        self.rows = np.arange(shards.n_cells) if rows is None else np.asarray(rows, dtype=np.int64)
        self.shard_of_row = np.searchsorted(shards.offsets, self.rows, side="right") - 1
        self._cached: dict[int, sp.csr_matrix] = {}  # in the order read, the oldest first

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.shards.var_names)

    def __getitem__(self, positions) -> ShardedCounts:
        """The rows at ``positions`` (a split's rows, say), still on disk."""
        return ShardedCounts(self.shards, self.rows[positions], self.shards_in_memory)

    def blocks(self) -> list[np.ndarray]:
        """The positions of the rows each shard holds, shard by shard."""
        bounds = np.flatnonzero(np.diff(self.shard_of_row)) + 1
        return np.split(np.arange(len(self.rows)), bounds)

    def _shard(self, shard: int) -> sp.csr_matrix:
        if shard not in self._cached:
            while len(self._cached) >= self.shards_in_memory:  # free the oldest before reading the next
                del self._cached[next(iter(self._cached))]
            self._cached[shard] = self.shards.read_shard(shard)
        return self._cached[shard]

    def read(self, positions: np.ndarray) -> sp.csr_matrix:
        """The counts of the rows at ``positions`` (sorted, as FieldBatches asks), shard by shard."""
        positions = np.asarray(positions)
        shards = self.shard_of_row[positions]
        parts = []
        for shard in dict.fromkeys(shards.tolist()):
            local = self.rows[positions[shards == shard]] - self.shards.offsets[shard]
            parts.append(self._shard(shard)[local])
        return parts[0] if len(parts) == 1 else sp.vstack(parts, format="csr")
