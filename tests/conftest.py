from pathlib import Path

import pytest
import torch

from lifedl.data import SimulationParams, simulate_counts

REPO = Path(__file__).resolve().parents[1]

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture
def small_counts():
    """400 cells x 300 genes, 4 cell types: enough for a model to learn something in seconds."""
    return simulate_counts(SimulationParams(n_cells=400, n_genes=300, n_types=4, seed=3, mean_library_size=1500))
