import pytest
from helpers import make_tiny_workdir


@pytest.fixture
def tiny_workdir(repo, tmp_path):
    return make_tiny_workdir(repo, tmp_path / "work")
