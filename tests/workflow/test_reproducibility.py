"""Same seed, same numbers: the rules' library calls (train -> embed -> evaluate) run
twice with seed 0 give identical embeddings and metrics tables; seed 1 changes them."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from fast_training import FAST_PARAMS

from lifedl import steps
from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import add_splits
from lifedl.models import architectures_of_task, get_architecture
from lifedl.pp import QCParams, run_qc


@pytest.fixture(scope="module")
def qc_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "qc.h5ad"
    # with surface proteins, so the two-modality architectures run on it too (the others read its RNA)
    adata = simulate_counts(SimulationParams(n_cells=300, n_genes=200, n_types=4, n_proteins=6, seed=11))
    spec = DatasetSpec("repro", kind="cells+protein", labels="cell_type")
    adata.uns["lifedl_dataset"] = spec.to_uns()  # the roles travel in the file
    filtered = run_qc(adata, QCParams(min_genes=10, min_cells=1, n_top_genes=150, max_pct_mito=100))
    add_splits(filtered, spec)  # as the qc rule does
    filtered.write_h5ad(path)
    return path


def _pipeline(qc_file, directory, arch, seed):
    models = directory / "models" / arch
    embedding, metrics = directory / "embedding.h5ad", directory / "metrics.tsv"
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    settings = steps.TrainSettings(arch, "repro", FAST_PARAMS[arch], seed, uri)
    steps.train(str(qc_file), str(models / "model.ckpt"), str(models / "run.json"), settings)
    steps.embed(
        str(qc_file), str(models / "model.ckpt"), str(embedding), str(metrics), arch, "repro",
        15, [0.5, 1.0], 1.0, seed,
    )  # fmt: skip
    result = ad.read_h5ad(embedding)
    return result.obsm[f"X_{arch}"], result.obsm["X_umap"], pd.read_csv(metrics, sep="\t")


# every representation that runs without a batch column (the batch-correcting baselines need one) in lifedl's
# environment (the scvi-tools peers: tests/models/test_peers.py)
@pytest.mark.parametrize(
    "arch",
    [
        a
        for a in architectures_of_task("representation", data_kind="cells+protein")
        if not get_architecture(a).needs and not get_architecture(a).environment and not get_architecture(a).uses_models
    ],
)
def test_same_seed_same_embedding_and_metrics_other_seed_differs(qc_file, tmp_path, arch):
    first = _pipeline(qc_file, tmp_path / "first", arch, seed=0)
    second = _pipeline(qc_file, tmp_path / "second", arch, seed=0)
    assert np.abs(first[0] - second[0]).max() == 0
    assert np.abs(first[1] - second[1]).max() == 0
    pd.testing.assert_frame_equal(first[2], second[2], check_exact=True)
    assert "ari" in first[2] and "knn_accuracy" in first[2]  # the labels were read from the file's spec

    other = _pipeline(qc_file, tmp_path / "other", arch, seed=1)
    assert np.abs(first[1] - other[1]).max() > 1e-3  # UMAP layout depends on the seed for every architecture
    if get_architecture(arch).plan != "none":  # PCAs and WNN are exact; a network's initialisation and noise are not
        assert np.abs(first[0] - other[0]).max() > 1e-3
        assert not first[2].equals(other[2])
