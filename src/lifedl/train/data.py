"""Minibatches cut from a sparse count matrix and densified one batch at a time.

The whole matrix is never densified: a batch of row indices is sliced from the
CSR matrix and turned into a dense float tensor (the data path scvi-tools users
find slow is per-cell __getitem__ plus collation; here one slice makes a batch).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler, SequentialSampler

DEVICE_RESIDENT_MAX_BYTES = 2 << 30  # dense float32 copies up to 2 GiB live on the GPU


class DeviceBatches(Dataset):
    """The whole matrix, dense, on the GPU: a batch is one index operation there, with no host-device copy."""

    def __init__(self, counts: sp.csr_matrix, batch_codes: np.ndarray, device: torch.device):
        self.counts = torch.from_numpy(sp.csr_matrix(counts, dtype=np.float32).toarray()).to(device)
        self.batch_codes = torch.as_tensor(batch_codes, dtype=torch.long, device=device)

    def __len__(self) -> int:
        return self.counts.shape[0]

    def __getitem__(self, rows) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.as_tensor(np.sort(np.asarray(rows)), device=self.counts.device)
        return self.counts[rows], self.batch_codes[rows]


class CSRBatches(Dataset):
    """Dataset indexed by a list of rows; returns (dense counts, batch codes) of those rows."""

    def __init__(self, counts: sp.csr_matrix, batch_codes: np.ndarray):
        self.counts = sp.csr_matrix(counts, dtype=np.float32)
        self.batch_codes = torch.as_tensor(batch_codes, dtype=torch.long)

    def __len__(self) -> int:
        return self.counts.shape[0]

    def __getitem__(self, rows) -> tuple[torch.Tensor, torch.Tensor]:
        rows = np.sort(np.asarray(rows))
        return torch.from_numpy(self.counts[rows].toarray()), self.batch_codes[rows]


class EpochShuffledBatches(Sampler):
    """Batches of shuffled row indices whose order depends only on (seed, epoch).

    Lightning calls ``set_epoch`` before each epoch, so a run resumed from a
    checkpoint at epoch k sees exactly the batches an uninterrupted run sees.
    """

    def __init__(self, n_rows: int, batch_size: int, seed: int):
        self.n_rows, self.batch_size, self.seed, self.epoch = n_rows, batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        order = np.random.default_rng((self.seed, self.epoch)).permutation(self.n_rows)
        for start in range(0, self.n_rows, self.batch_size):
            yield order[start : start + self.batch_size]

    def __len__(self) -> int:
        return math.ceil(self.n_rows / self.batch_size)


def batch_loader(
    counts: sp.csr_matrix,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    device: str = "cpu",
    num_workers: int = 0,
    batch_codes: np.ndarray | None = None,
) -> DataLoader:
    """Minibatches of (counts rows, batch codes); on a GPU, small data sets are moved there once and batched there.

    ``batch_codes`` is each cell's experimental batch as 0..n-1 (all 0 when there is none).
    """
    codes = np.zeros(counts.shape[0], dtype=np.int64) if batch_codes is None else np.asarray(batch_codes)
    on_gpu = device.startswith("cuda")
    resident = on_gpu and counts.shape[0] * counts.shape[1] * 4 <= DEVICE_RESIDENT_MAX_BYTES
    dataset = DeviceBatches(counts, codes, torch.device(device)) if resident else CSRBatches(counts, codes)
    workers = 0 if resident else num_workers
    if shuffle:
        sampler = EpochShuffledBatches(len(dataset), batch_size, seed)
    else:
        sampler = BatchSampler(SequentialSampler(dataset), batch_size, drop_last=False)
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


def split_cells(n_cells: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation split of cell indices (validation gets at least one cell)."""
    order = np.random.default_rng(seed).permutation(n_cells)
    n_val = max(1, round(val_fraction * n_cells)) if n_cells > 1 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


@torch.no_grad()
def predict_batches(
    function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    counts: sp.csr_matrix,
    batch_codes: np.ndarray | None = None,
    batch_size: int = 1024,
) -> np.ndarray:
    """Apply ``function(counts, batch_index)`` to dense batches of rows, in order; return a numpy array."""
    loader = batch_loader(counts, batch_size, shuffle=False, batch_codes=batch_codes)
    return torch.cat([function(x, b).cpu() for x, b in loader]).numpy()
