import numpy as np
import pandas as pd
import pytest

from lifedl.data import SimulationParams, simulate_counts
from lifedl.errors import LifedlError
from lifedl.pp import QCParams, run_qc
from lifedl.tl.metrics import best_resolution, evaluate_clustering, label_silhouette


def test_evaluate_scores_the_resolution_chosen_elsewhere_and_perfect_and_random_clusterings():
    rng = np.random.default_rng(0)
    labels = pd.Series(np.repeat(["a", "b", "c"], 100))
    embedding = np.concatenate([rng.normal(c * 10, 1, (100, 2)) for c in range(3)])
    clusterings = {0.5: labels.copy(), 1.0: pd.Series(rng.integers(0, 3, 300)).astype(str)}
    # the resolution is chosen on other (validation) cells: here the first half, scored on the second
    chosen = best_resolution({res: c[:150] for res, c in clusterings.items()}, labels[:150])
    assert chosen == 0.5
    row = evaluate_clustering(embedding, clusterings, labels, default_resolution=1.0, chosen_resolution=chosen)
    assert row["ari_best"] == pytest.approx(1.0) and row["nmi_best"] == pytest.approx(1.0)
    assert row["resolution_best"] == 0.5
    # without a chosen resolution the default one stands in: nothing is picked on the scored cells
    assert evaluate_clustering(embedding, clusterings, labels, 1.0)["resolution_best"] == 1.0
    assert abs(row["ari"]) < 0.05  # random clusters at the default resolution
    assert row["label_silhouette"] > 0.8
    assert label_silhouette(rng.normal(size=(300, 2)), labels) < 0.05


def test_without_labels_label_free_measures_are_reported():
    rng = np.random.default_rng(1)
    embedding = np.concatenate([rng.normal(c * 10, 1, (50, 2)) for c in range(2)])
    two = pd.Series(np.repeat(["a", "b"], 50))
    shuffled = pd.Series(rng.permutation(two.to_numpy()))
    stable = evaluate_clustering(embedding, {0.5: two, 1.0: two}, None, 1.0)
    assert set(stable) == {"resolution", "n_clusters", "cluster_silhouette", "resolution_stability"}
    assert stable["n_clusters"] == 2 and stable["cluster_silhouette"] > 0.8 and stable["resolution_stability"] == 1.0
    # clusters that cut across the structure: no separation, and a partition redrawn between resolutions
    unstable = evaluate_clustering(embedding, {0.5: two, 1.0: shuffled}, None, 1.0)
    assert unstable["cluster_silhouette"] < 0.05 and abs(unstable["resolution_stability"]) < 0.1


def test_qc_filters_selects_hvgs_and_keeps_counts():
    adata = simulate_counts(SimulationParams(n_cells=300, n_genes=500, n_types=3, seed=2))
    filtered = run_qc(adata, QCParams(min_genes=10, n_top_genes=200, max_pct_mito=100))
    assert filtered.n_vars == 200 and filtered.var["highly_variable"].all()
    assert filtered.layers["counts"].dtype.kind in "iu" or np.array_equal(
        filtered.layers["counts"].data, np.round(filtered.layers["counts"].data)
    )
    expected_x = np.log1p(filtered.layers["counts"][0].toarray() / filtered.layers["counts"][0].sum() * 1e4)
    np.testing.assert_allclose(filtered.X[0].toarray(), expected_x, rtol=1e-5)
    assert filtered.uns["qc"]["n_cells_after"] == filtered.n_obs


def test_qc_that_removes_every_cell_says_which_threshold_to_lower():
    adata = simulate_counts(SimulationParams(n_cells=50, n_genes=40, seed=2))
    with pytest.raises(LifedlError, match=r"no cells pass QC.*min_genes=1000.*config/config.yaml"):
        run_qc(adata, QCParams(min_genes=1000))


def test_qc_that_keeps_a_sliver_of_the_cells_stops_and_names_what_removed_them(capsys):
    # A shallow 1,000-gene panel: the default min_genes=200 would keep a handful of its cells.
    adata = simulate_counts(SimulationParams(n_cells=400, n_genes=1000, mean_library_size=180, seed=3))
    with pytest.raises(
        LifedlError,
        match=r"QC keeps only \d+ of 400 \(under 10%\): min_genes=200 removes 3\d\d.*"
        r"max_pct_mito=20.0 removes 0 \(median genes per cell: \d+\).*'qc:'.*'qc_per_dataset:'"
        r".*outlier_mads",
    ):
        run_qc(adata, QCParams())
    assert run_qc(adata, QCParams(min_genes=20, n_top_genes=200)).n_obs > 300  # thresholds for this data
    assert "no mitochondrial genes" not in capsys.readouterr().err  # the simulator names some MT- genes
    adata.var_names = [f"ENSG{i:011d}" for i in range(adata.n_vars)]  # Ensembl ids: no MT- prefix to find
    run_qc(adata, QCParams(min_genes=20, n_top_genes=200))
    assert "no mitochondrial genes" in capsys.readouterr().err


def test_qc_advice_comes_from_the_data_and_its_messages_agree(capsys):
    """At 19 genes per cell and min_genes 50 already set, the advice was min_genes 50 again; with no MT- genes
    and a cell without counts, the warning said max_pct_mito removes no cell while the error said 'removes 1'."""
    import re

    import scipy.sparse as sp

    adata = simulate_counts(SimulationParams(n_cells=400, n_genes=600, mean_library_size=22, seed=4))
    adata.var_names = [f"Gene{i}" for i in range(adata.n_vars)]  # mouse-style symbols: no MT- genes
    counts = adata.layers["counts"].tolil()
    counts[0, :] = 0  # one empty cell: its mito fraction is 0/0
    adata.layers["counts"] = sp.csr_matrix(counts)
    with pytest.raises(LifedlError) as error:
        run_qc(adata, QCParams(min_genes=50), source="results/mouse/raw.h5ad")
    message = str(error.value)
    median = int(re.search(r"median genes per cell: (\d+)", message).group(1))
    suggested = int(re.search(r"mouse: \{min_genes: (\d+)\}", message).group(1))
    assert median < 50 and suggested < 50 and suggested <= median  # reached by most cells, not the failed value
    assert "max_pct_mito=20.0 removes 0" in message  # as the warning says: no mito genes, no cell removed
    assert "removes no cell" in capsys.readouterr().err
    kept = run_qc(adata, QCParams(min_genes=suggested, n_top_genes=2000))
    assert kept.n_obs >= 0.9 * 399  # the advice keeps the data
    assert "every gene is kept (no highly variable gene selection)" in capsys.readouterr().err


def test_adaptive_qc_drops_the_cells_outside_the_data_s_own_spread():
    """outlier_mads: cells far from the median in log counts, log genes or % mito go, whatever the data's depth."""
    from lifedl.pp.qc import mad_outliers

    adata = simulate_counts(SimulationParams(n_cells=400, n_genes=1000, mean_library_size=180, seed=3))
    counts = adata.layers["counts"].tolil()
    counts[:5] = 0
    counts[:5, :3] = 1  # five near-empty droplets
    adata.layers["counts"] = counts.tocsr()
    adata.X = adata.layers["counts"].copy()
    # shallow cells pass without a fixed gene threshold; only the droplets are outliers
    filtered = run_qc(adata, QCParams(min_genes=0, outlier_mads=5, n_top_genes=200))
    assert filtered.n_obs >= 380 and not set(adata.obs_names[:5]) & set(filtered.obs_names)  # 95 % stay
    assert filtered.uns["qc"]["outlier_mads"] == 5
    # % mito counts only upwards; no spread means no outlier
    obs = pd.DataFrame(
        {
            "total_counts": [100.0] * 9 + [100.0],
            "n_genes_by_counts": [50.0] * 10,
            "pct_counts_mt": [1.0, 2.0, 1.5, 1.0, 2.0, 1.5, 1.0, 2.0, 0.0, 40.0],
        }
    )
    assert list(np.flatnonzero(mad_outliers(obs, 5))) == [9]


def test_qc_without_copies_keeps_exactly_what_anndata_subsetting_keeps(tmp_path):
    import anndata as ad
    import scanpy as sc

    from lifedl.io import read_h5ad_counts, write_h5ad
    from lifedl.pp.qc import annotate_qc_metrics

    adata = simulate_counts(SimulationParams(n_cells=400, n_genes=300, n_types=3, seed=4))
    adata.layers["counts"][:5] = 0  # five empty cells and, below, a gene seen in fewer than min_cells cells
    adata.layers["counts"][:, 7] = 0
    adata.layers["counts"][10, 7] = 3
    adata.layers["counts"].eliminate_zeros()
    adata.obsm["X_given"] = np.arange(2 * adata.n_obs, dtype=float).reshape(-1, 2)
    write_h5ad(adata, tmp_path / "raw.h5ad")
    params = QCParams(min_genes=20, min_cells=3, n_top_genes=100, max_pct_mito=100)

    lean = read_h5ad_counts(tmp_path / "raw.h5ad")
    assert "X" not in lean.layers and lean.X is None and lean.obsm["X_given"].shape == (400, 2)
    filtered = run_qc(lean, params)
    assert "n_genes_by_counts" in lean.obs  # the metrics for the QC figure land on the input

    # The same selection made the plain way: AnnData subsetting and copies.
    expected = ad.read_h5ad(tmp_path / "raw.h5ad")
    annotate_qc_metrics(expected)
    expected = expected[expected.obs["n_genes_by_counts"] >= params.min_genes].copy()
    expected = expected[:, np.asarray((expected.layers["counts"] > 0).sum(axis=0)).ravel() >= params.min_cells].copy()
    sc.pp.highly_variable_genes(expected, flavor="seurat_v3", n_top_genes=params.n_top_genes, layer="counts")
    expected = expected[:, expected.var["highly_variable"].to_numpy()]

    assert filtered.uns["qc"]["n_cells_after"] == 395 and adata.var_names[7] not in filtered.var_names
    assert list(filtered.obs_names) == list(expected.obs_names)
    assert list(filtered.var_names) == list(expected.var_names)
    assert (filtered.layers["counts"] != expected.layers["counts"]).nnz == 0
    np.testing.assert_array_equal(filtered.obsm["X_given"], expected.obsm["X_given"])
    assert list(filtered.obs["cell_type"].cat.categories) == list(expected.obs["cell_type"].cat.categories)


def test_label_free_measures_that_compare_across_models():
    """Clusters that follow depth, an embedding on a line, and two clusterings that agree or not."""
    from lifedl.tl.metrics import clustering_agreement, depth_association, effective_dimensions

    rng = np.random.default_rng(0)
    depth = np.exp(rng.normal(7, 1, 400))
    by_depth = pd.Series(np.digitize(np.log(depth), [6.5, 7.5]).astype(str))
    at_random = pd.Series(rng.integers(0, 3, 400).astype(str))
    assert depth_association(by_depth, depth) > 0.7 and depth_association(at_random, depth) < 0.05
    spread = rng.normal(size=(400, 10))
    assert 8 < effective_dimensions(spread) <= 10
    line = np.outer(rng.normal(size=400), rng.normal(size=10)) + 1e-4 * rng.normal(size=(400, 10))
    assert effective_dimensions(line) < 1.1
    table = clustering_agreement({"a": by_depth, "b": by_depth.copy(), "c": at_random})
    assert table.loc["a", "b"] == 1.0 and abs(table.loc["a", "c"]) < 0.05 and table.loc["c", "a"] == table.loc["a", "c"]
