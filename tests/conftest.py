import http.server
import threading
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


@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/www over HTTP on 127.0.0.1 (random port); stops when the test ends."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
