"""Two modalities of the same cells (data kind cells+protein): simulator, protein likelihood, WNN, the
integration models and the 10x reader that splits feature types."""

import hashlib

import h5py
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from fast_training import ValidationLosses, fit
from scipy.stats import nbinom

from lifedl.data import DatasetSpec, SimulationParams, load_source, simulate_counts
from lifedl.errors import LifedlError
from lifedl.models.base import load_model, save_checkpoint
from lifedl.nn.likelihoods import protein_mixture_parts
from lifedl.pp.protein import clr, protein_counts, protein_names
from lifedl.tl.metrics import group_agreement, knn_batch_entropy
from lifedl.tl.wnn import modality_weights, wnn_neighbors

JOINT = ["pca_protein", "pca_concat", "wnn", "concat_ae", "multivae"]


@pytest.fixture(scope="module")
def cite():
    """300 cells, 6 types (two planted single-modality pairs), 2 batches, 8 proteins, 20 % test cells."""
    params = SimulationParams(
        n_cells=300,
        n_genes=120,
        n_types=6,
        n_batches=2,
        n_proteins=8,
        test_fraction=0.2,
        seed=5,
        mean_library_size=1500,
    )
    return simulate_counts(params)


def test_simulation_plants_one_pair_per_modality(cite):
    types = cite.obs["cell_type"].astype(str).to_numpy()
    groups = cite.obs.groupby("cell_type", observed=True)["separated_by"].first().astype(str)
    assert groups.to_dict() == {
        "type_0": "both",
        "type_1": "both",
        "type_2": "rna",
        "type_3": "rna",
        "type_4": "protein",
        "type_5": "protein",
    }
    truth = cite.uns["protein_truth"]["positive"]
    assert (truth[2] == truth[3]).all() and (truth[4] != truth[5]).sum() == 3
    log_protein = np.log1p(protein_counts(cite))
    difference = np.abs(log_protein[types == "type_4"].mean(0) - log_protein[types == "type_5"].mean(0))
    flipped = truth[4] != truth[5]
    assert difference[flipped].min() > 1.0 and difference[~flipped].max() < 0.4  # the pair differs in those proteins
    rna = np.log1p(cite.layers["counts"].toarray() / cite.layers["counts"].sum(1).A * 1e4)

    def differs(a, b):
        return np.abs(rna[types == a].mean(0) - rna[types == b].mean(0)).max()

    assert differs("type_4", "type_5") < 0.5 * differs("type_2", "type_3")  # ... and not in RNA
    assert (cite.obs["split"] == "test").mean() == pytest.approx(0.2, abs=0.06)
    assert protein_names(cite) == [f"PROT{p:02d}" for p in range(1, 9)]


def test_proteins_leave_the_cells_of_a_simulation_as_they_were():
    params = {"n_cells": 60, "n_genes": 40, "n_types": 4, "seed": 2}
    plain = simulate_counts(SimulationParams(**params))
    with_protein = simulate_counts(SimulationParams(**params, n_proteins=5))
    assert (plain.obs["cell_type"] == with_protein.obs["cell_type"]).all()
    assert (plain.obs["batch"] == with_protein.obs["batch"]).all()
    assert "protein_counts" not in plain.obsm and with_protein.obsm["protein_counts"].shape == (60, 5)
    with pytest.raises(ValueError, match="n_types >= 4"):
        simulate_counts(SimulationParams(n_cells=20, n_genes=10, n_types=3, n_proteins=4))


def test_protein_mixture_is_the_weighted_sum_of_its_background_and_foreground():
    y = torch.tensor([[3.0, 40.0, 200.0]])
    background, scale, theta = torch.full((1, 3), 10.0), torch.full((1, 3), 15.0), torch.full((3,), 5.0)
    logits = torch.tensor([[0.5, 0.5, 0.5]])
    parts = protein_mixture_parts(y, background, scale, logits, theta)
    pi = torch.sigmoid(logits)
    p_background = nbinom.pmf(y.numpy(), 5.0, 5.0 / (5.0 + 10.0))
    p_foreground = nbinom.pmf(y.numpy(), 5.0, 5.0 / (5.0 + 150.0))
    expected = np.log(pi.numpy() * p_background + (1 - pi.numpy()) * p_foreground)
    np.testing.assert_allclose(parts["log_prob"].numpy(), expected, rtol=1e-4)
    np.testing.assert_allclose(parts["background"].numpy(), np.log(p_background), rtol=1e-4)
    # a count at the background level is background, one at the foreground level is foreground
    assert parts["foreground_probability"][0, 0] < 0.05 and parts["foreground_probability"][0, 2] > 0.95
    # with the background's probability near 1 the mixture is the background alone
    only = protein_mixture_parts(y, background, scale, torch.full((1, 3), 200.0), theta)
    np.testing.assert_allclose(only["log_prob"].numpy(), only["background"].numpy(), atol=1e-5)


def test_clr_is_per_cell_and_centred():
    counts = np.array([[0, 10, 100], [5, 5, 5]])
    expected = np.log1p(counts / np.exp(np.log1p(counts).mean(1, keepdims=True)))
    np.testing.assert_allclose(clr(counts), expected, rtol=1e-6)
    assert clr(counts)[1].std() == 0  # a cell with equal counts has equal CLR values


def test_wnn_weights_the_modality_that_carries_the_structure():
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(4), 50)
    structured = rng.normal(size=(200, 5)) * 0.3 + np.eye(4, 5)[clusters] * 4
    noise = rng.normal(size=(200, 5))
    weights, _ = modality_weights([structured, noise], n_neighbors=15)
    assert np.allclose(weights.sum(1), 1) and np.median(weights[:, 0]) > 0.6
    index, distance, _ = wnn_neighbors([noise, structured], n_neighbors=15)
    assert (index[:, 0] == np.arange(200)).all() and (distance[:, 0] == 0).all()
    assert (clusters[index[:, 1:]] == clusters[:, None]).mean() > 0.9  # the graph follows the structured one


def test_batch_entropy_and_group_agreement():
    rng = np.random.default_rng(1)
    mixed = rng.normal(size=(200, 3))
    batches = np.repeat(["a", "b"], 100)
    separated = mixed + (batches == "b")[:, None] * 20
    assert knn_batch_entropy(mixed, batches, k=20) > 0.9
    assert knn_batch_entropy(separated, batches, k=20) < 0.05
    labels = np.array(["x", "y", "x", "y", "u", "v"])
    clusters = np.array([0, 1, 0, 1, 2, 2])
    groups = np.array(["rna", "rna", "rna", "rna", "protein", "protein"])
    assert group_agreement(labels, clusters, groups) == {"ari_protein": 0.0, "ari_rna": 1.0}


@pytest.mark.parametrize("arch", ["concat_ae", "multivae"])
def test_integration_losses_fall_in_named_parts(arch, cite, tmp_path):
    losses = ValidationLosses()
    model = fit(
        arch,
        cite,
        tmp_path,
        roles={"split": "split", "batch": "batch"},
        callbacks=[losses.callback],
        max_epochs=12,
        patience=12,
        learning_rate=3e-3,
    )
    assert min(losses.values[-3:]) < 0.9 * losses.values[0]
    batch = {
        "counts": torch.ones(4, cite.n_vars),
        "protein": torch.ones(4, 8),
        "batch": torch.zeros(4, dtype=torch.long),
    }
    assert {"reconstruction", "protein_reconstruction"} <= set(model.trained.network.loss(batch))
    assert (
        model.final_metrics["n_train_cells"] + model.final_metrics["n_val_cells"] == (cite.obs["split"] != "test").sum()
    )


def test_multivae_embeds_and_predicts_protein_with_the_protein_hidden(cite, tmp_path):
    model = fit("multivae", cite, tmp_path, roles={"split": "split", "batch": "batch"}, max_epochs=15, patience=15)
    trained = model.trained
    joint, rna_only = trained.embed(cite), trained.embed(cite, protein_seen=False)
    assert np.isfinite(rna_only).all() and rna_only.std() > 0 and np.abs(joint - rna_only).max() > 1e-3
    scrambled = cite.copy()
    scrambled.obsm["protein_counts"] = (
        scrambled.obsm["protein_counts"].sample(frac=1, random_state=0).set_axis(scrambled.obs_names)
    )
    np.testing.assert_allclose(trained.embed(scrambled, protein_seen=False), rna_only, atol=1e-6)  # hidden = unread
    test = (cite.obs["lifedl_split"] == "test").to_numpy()  # the sheet's test cells: never trained on
    assert test.sum() == (cite.obs["split"] == "test").sum()
    metrics = trained.test_scores(cite[test], cite[~test])
    assert metrics["protein_n_heldout_cells"] == test.sum()
    for key in ("protein_r_per_cell", "protein_r_per_protein", "protein_r_per_cell_mean_baseline"):
        assert -1 <= metrics[key] <= 1


@pytest.mark.parametrize("arch", JOINT)
def test_checkpoint_round_trip_embeds_identically(arch, cite, tmp_path):
    model = fit(arch, cite, tmp_path / "work", roles={"split": "split", "batch": "batch"})
    save_checkpoint(model.trained, tmp_path / "model.ckpt")
    loaded = load_model(tmp_path / "model.ckpt")
    expected = model.embed(cite)
    np.testing.assert_array_equal(loaded.embed(cite), expected)
    assert np.isfinite(expected).all() and expected.std() > 0
    if arch == "wnn":
        _distances, connectivities = loaded.neighbor_graph(cite, 10)
        assert connectivities.shape == (cite.n_obs, cite.n_obs) and "wnn_rna_weight" in cite.obs


def _write_10x_h5(path, genes, antibodies, cells=6, seed=0):
    """A Cell Ranger 3 feature-barcode matrix (.h5) with 'Gene Expression' and 'Antibody Capture' features."""
    features = [(name, "Gene Expression") for name in genes] + [(name, "Antibody Capture") for name in antibodies]
    dense = np.random.default_rng(seed).poisson(3, size=(len(features), cells)).astype(np.int32)
    matrix = sp.csc_matrix(dense)  # features x barcodes, column-compressed as Cell Ranger writes it
    with h5py.File(path, "w") as file:
        group = file.create_group("matrix")
        group["barcodes"] = np.array([f"AAAC{i:04d}-1" for i in range(cells)], dtype="S")
        group["data"], group["indices"], group["indptr"] = matrix.data, matrix.indices, matrix.indptr
        group["shape"] = np.array(dense.shape, dtype=np.int32)
        feature_group = group.create_group("features")
        feature_group["id"] = np.array([f"ID{i}" for i in range(len(features))], dtype="S")
        feature_group["name"] = np.array([name for name, _ in features], dtype="S")
        feature_group["feature_type"] = np.array([kind for _, kind in features], dtype="S")
        feature_group["genome"] = np.array(["GRCh38"] * len(features), dtype="S")
        feature_group["_all_tag_keys"] = np.array(["genome"], dtype="S")
    return dense


def test_10x_h5_reader_keeps_antibodies_as_protein(http_server, tmp_path, capsys):
    root, base = http_server
    dense = _write_10x_h5(root / "cite.h5", ["CD3E", "MS4A1", "NKG7"], ["CD3_TotalSeqB", "CD19_TotalSeqB"])
    digest = hashlib.sha256((root / "cite.h5").read_bytes()).hexdigest()
    spec = DatasetSpec("cite", f"url:{base}/cite.h5", kind="cells+protein", checksum=f"sha256:{digest}")
    adata = load_source(spec, tmp_path / "cache")
    assert list(adata.var_names) == ["CD3E", "MS4A1", "NKG7"]
    np.testing.assert_array_equal(adata.layers["counts"].toarray(), dense[:3].T)
    assert protein_names(adata) == ["CD3_TotalSeqB", "CD19_TotalSeqB"]
    np.testing.assert_array_equal(protein_counts(adata), dense[3:].T)
    assert "read 3 'Gene Expression' features and 2 'Antibody Capture' features" in capsys.readouterr().out


def test_10x_h5_without_genes_or_protein_is_a_clear_error(http_server, tmp_path):
    root, base = http_server
    _write_10x_h5(root / "adt.h5", [], ["CD3_TotalSeqB", "CD19_TotalSeqB"])
    _write_10x_h5(root / "rna.h5", ["CD3E", "MS4A1"], [])
    for name, expected in (("adt.h5", "no 'Gene Expression' features"), ("rna.h5", "no obsm['protein_counts']")):
        digest = hashlib.sha256((root / name).read_bytes()).hexdigest()
        spec = DatasetSpec("x", f"url:{base}/{name}", kind="cells+protein", checksum=digest)
        with pytest.raises(LifedlError, match=expected.replace("[", r"\[").replace("]", r"\]")):
            load_source(spec, tmp_path / f"cache-{name}")


def test_a_cells_protein_data_set_also_runs_the_cell_models():
    from lifedl.config import dataset_architectures

    row = {"id": "c", "kind": "cells+protein", "architectures": "vae,multivae"}
    assert dataset_architectures(["pca", "vae", "multivae", "cnn"], row, "sheet.tsv") == ["pca", "vae", "multivae"]
    with pytest.raises(LifedlError, match="reads 'cells\\+protein' data"):
        dataset_architectures(["pca", "multivae"], {"id": "c", "kind": "cells", "architectures": "multivae"}, "s")


def test_multivae_as_an_mlflow_model_reads_protein_columns(cite, tmp_path):
    from lifedl.train.pyfunc import LifedlModel, example_input

    model = fit("multivae", cite, tmp_path, roles={"split": "split", "batch": "batch"}, max_epochs=2).trained
    table = example_input(model, cite, n_cells=5)
    assert [c for c in table.columns if c.startswith("protein:")] == [f"protein:{p}" for p in model.proteins]
    wrapper = LifedlModel()
    wrapper.model = model
    np.testing.assert_array_equal(wrapper.predict(None, table).to_numpy(), model.embed(cite[:5]))


def test_umap_markers_are_the_planted_differences_on_the_cells_scale(cite):
    from lifedl.pl.multiomics import modality_markers

    markers = modality_markers(cite, "cell_type")
    truth = cite.uns["protein_truth"]["positive"]
    assert markers["protein"].name in np.array(protein_names(cite))[truth[4] != truth[5]]
    counts = cite.layers["counts"].toarray()
    gene = list(cite.var_names).index(markers["rna"].name)
    expected = np.log1p(counts[:, gene] / counts.sum(1) * 1e4)  # normalised by the cell's library, not the gene's
    np.testing.assert_allclose(markers["rna"].to_numpy(), expected, rtol=1e-5)
