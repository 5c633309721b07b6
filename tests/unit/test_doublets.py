"""Planted doublets (lifedl.data.doublets), their source row and the detectors' measures (lifedl.tl.doublets)."""

import numpy as np
import pytest
import scipy.sparse as sp

from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.doublets import DoubletParams, plant_doublets, random_pairs, sum_pairs
from lifedl.data.sources import load_source
from lifedl.data.spec import DatasetSpec
from lifedl.errors import LifedlError
from lifedl.tl.doublets import doublet_metrics, precision_recall_table


@pytest.fixture(scope="module")
def cells():
    return simulate_counts(SimulationParams(n_cells=330, n_genes=80, n_types=3, seed=1))


def test_a_doublet_holds_its_two_parents_counts_and_they_leave_the_sample(cells):
    planted = plant_doublets(cells, DoubletParams(rate=0.1, types="cell_type", seed=2))
    doublets = (planted.obs["doublet"] == "doublet").to_numpy()
    assert doublets.sum() == 30 and planted.n_obs == 330 - 30  # 30 pairs summed, 60 parents out: 10 % of 300
    counts, original = sp.csr_matrix(planted.layers["counts"]), sp.csr_matrix(cells.layers["counts"])
    position = {name: i for i, name in enumerate(cells.obs_names)}
    parents = planted.obs.loc[doublets, ["parent_a", "parent_b"]].to_numpy()
    a = np.array([position[p] for p in parents[:, 0]])
    b = np.array([position[p] for p in parents[:, 1]])
    # library sizes add, and so does every gene
    np.testing.assert_array_equal(counts[doublets].toarray(), (original[a] + original[b]).toarray())
    np.testing.assert_array_equal(
        np.asarray(counts[doublets].sum(1)).ravel(), np.asarray(original[a].sum(1) + original[b].sum(1)).ravel()
    )
    assert not set(parents.ravel()) & set(planted.obs_names)  # a parent is not also seen alone
    assert len(set(parents.ravel())) == 60
    types = cells.obs["cell_type"].astype(str)
    homotypic = types.iloc[a].to_numpy() == types.iloc[b].to_numpy()
    kinds = planted.obs.loc[doublets, "doublet_kind"].astype(str).to_numpy()
    np.testing.assert_array_equal(kinds == "homotypic", homotypic)
    assert set(planted.obs.loc[~doublets, "doublet_kind"]) == {"singlet"}
    assert planted.uns["doublets"]["n_homotypic"] == homotypic.sum()
    # seeded: the same pairs again
    again = plant_doublets(cells, DoubletParams(rate=0.1, types="cell_type", seed=2))
    assert (again.obs_names == planted.obs_names).all()


def test_random_pairs_never_pair_a_cell_with_itself():
    first, second = random_pairs(5, 2000, np.random.default_rng(0))
    assert (first != second).all() and set(first) == set(second) == set(range(5))
    summed = sum_pairs(sp.csr_matrix(np.eye(5)), first[:3], second[:3]).toarray()
    assert (summed.sum(1) == 2).all()


def test_a_doublets_source_plants_them_in_the_cells_of_its_inner_source(tmp_path):
    spec = DatasetSpec(
        "d",
        source="doublets:rate=0.2,types=cell_type,seed=0:simulated:n_cells=240,n_genes=60,n_types=2,seed=0",
        labels="doublet",
    )
    adata = load_source(spec, tmp_path)
    assert (adata.obs["doublet"] == "doublet").sum() == 40 and adata.n_obs == 200
    assert adata.uns["lifedl_dataset"]["labels"] == "doublet"  # the row's own spec, not the inner source's


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("doublets:rate=0.7:simulated:n_cells=100", "rate=0.7"),
        ("doublets:ratio=0.1:simulated:n_cells=100", "unknown doublet parameter 'ratio'"),
        ("doublets:rate=0.1", "whose own source follows the parameters"),
    ],
)
def test_a_bad_doublets_source_says_what_to_write(tmp_path, source, message):
    with pytest.raises(LifedlError, match=message) as error:
        load_source(DatasetSpec("bad", source=source, labels="doublet"), tmp_path)
    assert "dataset 'bad'" in str(error.value)


def test_the_measures_on_hand_made_scores():
    labels = np.array(["singlet"] * 6 + ["doublet"] * 4)
    kinds = np.array(["singlet"] * 6 + ["heterotypic"] * 3 + ["homotypic"])
    # the homotypic doublet scores as low as the lowest singlet; the rest rank above every singlet but one
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.95, 0.9, 0.8, 0.7, 0.1])
    metrics = doublet_metrics(labels, scores, kinds, rate=0.4)
    # pairs (doublet above singlet): 3 heterotypic doublets beat 5 of 6 singlets each; the homotypic one beats none
    # (a tie with 0.1 counts a half)
    assert metrics["auroc"] == pytest.approx((3 * 5 + 0.5) / 24)
    assert metrics["auroc_heterotypic"] == pytest.approx(15 / 18)
    # the top 4 (0.95 singlet, 0.9, 0.8, 0.7): 3 of 4 calls right, 3 of 4 doublets found
    assert metrics["precision_at_rate"] == metrics["recall_at_rate"] == pytest.approx(0.75)
    assert metrics["f1_at_rate"] == pytest.approx(0.75)
    curve = precision_recall_table(labels, scores, n_points=5)
    assert curve[0] == {"recall": 0.0, "precision": 1.0} and curve[-1]["precision"] == pytest.approx(0.4)
    assert doublet_metrics(labels, -scores)["auroc"] == pytest.approx(1 - metrics["auroc"])


def test_qc_can_remove_the_cells_scrublet_calls_doublets():
    from lifedl.pl.figures import qc_metrics_figure
    from lifedl.pp import QCParams, run_qc

    cells = simulate_counts(SimulationParams(n_cells=440, n_genes=400, n_types=3, seed=1))
    planted = plant_doublets(cells, DoubletParams(rate=0.1, types="cell_type", seed=2))
    params = QCParams(min_genes=0, n_top_genes=200, remove_doublets=True)
    without = run_qc(planted.copy(), QCParams(min_genes=0, n_top_genes=200))
    kept = run_qc(planted, params)
    removed = without.obs_names.difference(kept.obs_names)
    assert without.uns["qc"]["n_doublets_removed"] == 0
    assert kept.uns["qc"]["n_doublets_removed"] == len(removed) > 0
    # what it removes is mostly the planted doublets (a tenth of the cells)
    assert (planted.obs.loc[removed, "doublet"] == "doublet").mean() > 0.5
    figure = qc_metrics_figure(planted, params.__dict__)
    assert [ax.get_title() for ax in figure.axes][-1] == "scrublet doublet score"
