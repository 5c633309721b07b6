from pathlib import Path

import pytest
import torch
from local_index import pip_environment, publish_wheel, serving

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


@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/www over HTTP on 127.0.0.1 (random port); stops when the test ends."""
    root = tmp_path / "www"
    root.mkdir()
    with serving(root) as base:
        yield root, base


@pytest.fixture
def package_index(http_server, monkeypatch):
    """A PEP 503 package index on 127.0.0.1 that pip alone is pointed at; ``publish(name, version, members)``
    builds a wheel holding ``members`` (path in wheel -> bytes or text), serves it, and returns its sha256."""
    root, base = http_server
    for name, value in pip_environment(base).items():
        monkeypatch.setenv(name, value)
    return root, lambda name, version, members: publish_wheel(root, name, version, members)
