"""The one data path: per-row arrays (a data set's declared fields) into dict minibatches.

A model declares the fields its loss reads (``counts``, ``batch``, ``label``, ``sequence``,
``row``, ...) and hands this module one array per field, each with one row per cell or
sequence: a scipy CSR matrix (sliced per batch and densified one batch at a time, never
whole), or a numpy array (integers become ``long`` tensors, floats ``float32``). A minibatch
is a dict with those keys and, for each sparse field, the coordinates of its stored entries
(``{field}_nonzero``, what a sparse likelihood reads instead of searching the dense batch).

The whole matrix is never densified on the host: a batch of row indices is sliced from
the CSR matrix (the data path scvi-tools users find slow is per-cell __getitem__ plus
collation; here one slice makes a batch). On a GPU, data sets up to 2 GiB dense are moved
there once and batched there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from lifedl.data.shards import ShardedCounts
from lifedl.distributed import world

DEVICE_RESIDENT_MAX_BYTES = 2 << 30  # dense copies up to 2 GiB live on the GPU

Arrays = Mapping[str, object]  # field name -> per-row array (CSR matrix or numpy array)


def n_rows(arrays: Arrays) -> int:
    lengths = {name: array.shape[0] for name, array in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every field needs one row per cell or sequence, got {lengths}")
    return next(iter(lengths.values()))


def take_rows(arrays: Arrays, rows: np.ndarray) -> dict[str, object]:
    """The same rows of every field (e.g. a training or validation split)."""
    return {name: array[rows] for name, array in arrays.items()}


def _host_tensor(array) -> torch.Tensor:
    array = np.asarray(array)
    return torch.from_numpy(array.astype(np.int64 if array.dtype.kind in "iub" else np.float32, copy=False))


class FieldBatches(Dataset):
    """Indexed by a list of rows; returns {field: tensor of those rows} and, with ``coordinates``, each sparse
    field's stored coordinates (what a training loss reads; predictions need none)."""

    def __init__(self, arrays: Arrays, coordinates: bool = True):
        self.n_rows, self.coordinates = n_rows(arrays), coordinates
        self.sparse = {k: sp.csr_matrix(v, dtype=np.float32) for k, v in arrays.items() if sp.issparse(v)}
        self.on_disk = {k: v for k, v in arrays.items() if isinstance(v, ShardedCounts)}  # read a shard at a time
        self.dense = {k: _host_tensor(v) for k, v in arrays.items() if k not in self.sparse and k not in self.on_disk}

    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, rows) -> dict[str, torch.Tensor]:
        rows = np.sort(np.asarray(rows))
        sliced = {name: matrix[rows] for name, matrix in self.sparse.items()}
        sliced.update({name: counts.read(rows) for name, counts in self.on_disk.items()})
        batch = {name: torch.from_numpy(matrix.toarray(order="C").astype(np.float32, copy=False))
                 for name, matrix in sliced.items()}  # fmt: skip
        batch.update({name: tensor[rows] for name, tensor in self.dense.items()})
        if self.coordinates:  # after the fields: a batch's first value has one row per cell (the step counts them)
            batch.update({nonzero_key(name): stored_coordinates(matrix) for name, matrix in sliced.items()})
        return batch


def nonzero_key(field: str) -> str:
    """The batch key of a sparse field's stored (row, column) coordinates (see :func:`stored_coordinates`)."""
    return f"{field}_nonzero"


def stored_coordinates(matrix: sp.csr_matrix) -> torch.Tensor:
    """The (row, column) of each stored entry of a CSR slice, shape (2, stored): read from its structure, where
    ``torch.nonzero`` on the dense batch has to scan every entry (128 x 2,000 10x-like counts, one thread:
    2.3 ms against 0.09 ms, measured beside a running workflow). Stored zeros may be among them: a consumer
    must allow for them."""
    if not matrix.has_canonical_format:  # a repeated coordinate would count its entry twice
        matrix = matrix.copy()
        matrix.sum_duplicates()
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    return torch.from_numpy(np.stack([rows, matrix.indices.astype(np.int64)]))


class DeviceFieldBatches(Dataset):
    """Every field, dense, on the GPU: a batch is one index operation there, with no host-device copy."""

    def __init__(self, arrays: Arrays, device: torch.device):
        self.n_rows = n_rows(arrays)
        self.tensors = {
            name: (
                torch.from_numpy(sp.csr_matrix(array, dtype=np.float32).toarray())
                if sp.issparse(array)
                else _host_tensor(array)
            ).to(device)
            for name, array in arrays.items()
        }

    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, rows) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(np.sort(np.asarray(rows)), device=next(iter(self.tensors.values())).device)
        return {name: tensor[index] for name, tensor in self.tensors.items()}


# rows sorted by length together (in batches): few enough that a pool of shuffled rows spans the lengths
LENGTH_POOL_BATCHES = 16


def _n_batches(n_rows: int, batch_size: int, processes: int) -> int:
    """How many batches ``n_rows`` rows make, a last batch with fewer rows than processes left out (one process
    keeps any last batch)."""
    full, rest = divmod(n_rows, batch_size)
    return full + int(rest >= processes)


class RowBatches(Sampler):
    """Batches of row indices in order (validation, prediction).

    ``shard``: in a data-parallel training (a torch.distributed process group; lifedl.distributed.world) each
    process takes its share of every batch (rows rank, rank + N, ...), so the N processes together see the
    batches one process would, gradients averaged over them: the same effective batch size. Every process gets
    the same number of batches (a last batch with fewer rows than processes is left out).
    """

    def __init__(self, n_rows: int, batch_size: int, shard: bool = False):
        self.n_rows, self.batch_size, self.shard = n_rows, batch_size, shard

    def batches(self) -> list[np.ndarray]:
        order = np.arange(self.n_rows)
        return [order[start : start + self.batch_size] for start in range(0, self.n_rows, self.batch_size)]

    def _process_share(self) -> tuple[int, int]:
        """(this process's rank, the number of processes sharing each batch)."""
        return world() if self.shard else (0, 1)

    def __iter__(self):
        rank, size = self._process_share()
        batches = self.batches()
        if size == 1:
            yield from batches
            return
        yield from (batch[rank::size] for batch in batches if len(batch) >= size)

    def __len__(self) -> int:
        return _n_batches(self.n_rows, self.batch_size, self._process_share()[1])


class EpochShuffledBatches(RowBatches):
    """Batches of shuffled row indices whose order depends only on (seed, epoch).

    Lightning calls ``set_epoch`` before each epoch, so a run resumed from a
    checkpoint at epoch k sees exactly the batches an uninterrupted run sees.

    With ``lengths`` (sequences of unequal length, padded to the longest), the shuffled rows are sorted by length
    within pools of ``LENGTH_POOL_BATCHES`` batches and the batches are then shuffled (Hugging Face's
    group_by_length): a batch pads to its own longest sequence only (lifedl.nn.sequence.without_padding), so
    peptides of 7-174 letters no longer pay for 174 in nearly every batch. ``shard``: as :class:`RowBatches`
    (every process draws the same order from (seed, epoch) and takes its share of each batch).
    """

    def __init__(
        self,
        n_rows: int,
        batch_size: int,
        seed: int,
        lengths: np.ndarray | None = None,
        shard: bool = False,
        blocks: list[np.ndarray] | None = None,
        blocks_together: int = 1,
    ):
        super().__init__(n_rows, batch_size, shard)
        self.seed, self.epoch = seed, 0
        self.lengths = None if lengths is None else np.asarray(lengths)
        # rows read together (a shard on disk): the blocks shuffled, then the rows of each group of
        # ``blocks_together`` consecutive blocks shuffled together
        self.blocks, self.blocks_together = blocks, blocks_together

    def _groups(self, rng: np.random.Generator) -> list[np.ndarray]:
        order = [self.blocks[index] for index in rng.permutation(len(self.blocks))]
        together = self.blocks_together
        return [np.concatenate(order[start : start + together]) for start in range(0, len(order), together)]

    def __len__(self) -> int:
        if self.blocks is None:
            return super().__len__()
        groups = self._groups(np.random.default_rng((self.seed, self.epoch)))
        processes = self._process_share()[1]
        return sum(_n_batches(len(rows), self.batch_size, processes) for rows in groups)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[np.ndarray]:
        rng = np.random.default_rng((self.seed, self.epoch))
        if self.blocks is not None:  # as scDataset and scvi-tools' collection loaders: a few blocks in memory
            shuffled = [rng.permutation(rows) for rows in self._groups(rng)]
            return [
                rows[start : start + self.batch_size]
                for rows in shuffled
                for start in range(0, len(rows), self.batch_size)
            ]
        order = rng.permutation(self.n_rows)
        starts = range(0, self.n_rows, self.batch_size)
        if self.lengths is None:
            return [order[start : start + self.batch_size] for start in starts]
        pool = self.batch_size * LENGTH_POOL_BATCHES
        pools = [order[start : start + pool] for start in range(0, self.n_rows, pool)]
        order = np.concatenate([rows[np.argsort(self.lengths[rows], kind="stable")] for rows in pools])
        batches = [order[start : start + self.batch_size] for start in starts]
        return [batches[index] for index in rng.permutation(len(batches))]


def _dense_bytes(arrays: Arrays) -> int:
    return sum(int(np.prod(array.shape)) * 4 for array in arrays.values())


def batch_loader(
    arrays: Arrays,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    device: str = "cpu",
    num_workers: int = 0,
    lengths: np.ndarray | None = None,
    shard: bool = False,
    coordinates: bool = True,
) -> DataLoader:
    """Dict minibatches of the rows of ``arrays``; on a GPU, small data sets are moved there once and batched there.
    ``lengths``: each row's sequence length, where shuffled batches group rows of similar length; ``shard``: in a
    data-parallel training, this process's share of each batch (:class:`RowBatches`); ``coordinates``: each sparse
    field's stored coordinates with the batch (:class:`FieldBatches`)."""
    on_gpu = device.startswith("cuda")
    on_disk = [array for array in arrays.values() if isinstance(array, ShardedCounts)]
    resident = on_gpu and not on_disk and _dense_bytes(arrays) <= DEVICE_RESIDENT_MAX_BYTES
    dataset = DeviceFieldBatches(arrays, torch.device(device)) if resident else FieldBatches(arrays, coordinates)
    workers = 0 if resident else num_workers
    if shuffle:
        blocks = on_disk[0].blocks() if on_disk else None
        together = on_disk[0].shards_in_memory if on_disk else 1
        sampler = EpochShuffledBatches(len(dataset), batch_size, seed, lengths, shard, blocks, together)
    else:
        sampler = RowBatches(len(dataset), batch_size, shard)
    # batch_size=None: the sampler already yields whole batches of indices. The loader's own generator keeps
    # iterator creation from drawing on the global RNG (which the training noise uses).
    return DataLoader(
        dataset,
        sampler=sampler,
        batch_size=None,
        generator=torch.Generator().manual_seed(seed),
        num_workers=workers,
        pin_memory=on_gpu and not resident,
        persistent_workers=workers > 0,
    )


def split_rows(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation split of row indices (validation gets at least one row)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(val_fraction * n)) if n > 1 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


@torch.no_grad()
def predict_batches(
    function: Callable[[dict[str, torch.Tensor]], torch.Tensor], arrays: Arrays, batch_size: int = 1024
) -> np.ndarray:
    """Apply ``function(batch)`` to dict batches of the rows, in order; return a numpy array.

    Each batch's result is copied into one array of every row's results, allocated at the first batch: a list of
    small results kept between the batches' large dense buffers fragments the heap, which then grows with the
    rows (embedding a million cells from disk peaked at 3.1 GiB that way, 1.3 GiB this way)."""
    rows = n_rows(arrays)
    results, start = None, 0
    for batch in batch_loader(arrays, batch_size, shuffle=False, coordinates=False):
        result = function(batch).cpu().numpy()
        if results is None:
            results = np.empty((rows, *result.shape[1:]), dtype=result.dtype)
        start += len(result)
        if start > rows:
            break
        results[start - len(result) : start] = result
    if results is None:  # no rows: the function's output shape is unknown
        return np.empty((0,), dtype=np.float32)
    if start != rows:
        returned = f"at least {start}" if start > rows else str(start)
        raise ValueError(f"predict_batches: the function returned {returned} rows for {rows} input rows")
    return results
