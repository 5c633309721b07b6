"""Chromatin accessibility: TF-IDF by hand and as muon computes it, LSI that places new cells where the fit put
them, and a simulation whose types open their own regions."""

import numpy as np
import pytest
import scipy.sparse as sp

from lifedl.data.chromatin import PeakSimulationParams, simulate_peaks
from lifedl.tl.chromatin import LSI, inverse_document_frequency, tfidf

COUNTS = np.array([[1, 0, 2, 0], [0, 1, 1, 0], [3, 0, 0, 1]])


def test_tfidf_by_hand():
    idf = inverse_document_frequency(COUNTS)
    np.testing.assert_allclose(idf, np.log1p(3 / np.array([4, 1, 3, 1])))
    # cell 0: 3 fragments, 1 in region 0 -> log(1 + 1e4 / 3) * log(1 + 3 / 4)
    matrix = tfidf(COUNTS, idf).toarray()
    assert matrix[0, 0] == pytest.approx(np.log1p(1e4 / 3) * np.log1p(3 / 4))
    assert matrix[2, 3] == pytest.approx(np.log1p(1e4 / 4) * np.log1p(3 / 1))
    assert matrix[0, 1] == 0.0 and tfidf(np.zeros((1, 4)), idf).nnz == 0  # no fragment: nothing, not NaN


def test_tfidf_is_muons_on_the_cells_it_is_fitted_on():
    import anndata as ad
    import muon

    adata = ad.AnnData(sp.csr_matrix(COUNTS, dtype=np.float32))
    muon.atac.pp.tfidf(adata)
    np.testing.assert_allclose(
        tfidf(COUNTS, inverse_document_frequency(COUNTS)).toarray(), adata.X.toarray(), rtol=1e-5
    )


def test_lsi_places_its_training_cells_where_the_fit_did_and_separates_types():
    # the mechanics, not the hard case
    easy = {"n_lineages": 1, "specific_fraction": 0.1, "leak": 0.0, "open_rate": 0.25}
    peaks = simulate_peaks(PeakSimulationParams(n_cells=300, n_peaks=600, n_types=3, seed=1, **easy))
    counts = peaks.layers["counts"]
    lsi = LSI.fit(counts[:200], n_components=10, seed=0)
    scores = lsi.scores(counts[:200])
    np.testing.assert_allclose(scores.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(scores.std(axis=0), 1, rtol=1e-4)
    assert abs(lsi.depth_correlation[0]) > 0.5  # the first component follows depth, as Signac warns
    held_out = lsi.scores(counts[200:])  # new cells: their types still apart
    from sklearn.neighbors import KNeighborsClassifier

    labels = peaks.obs["cell_type"].to_numpy()
    knn = KNeighborsClassifier(10).fit(scores[:, 1:], labels[:200])
    assert knn.score(held_out[:, 1:], labels[200:]) > 0.8


def test_simulated_cells_are_sparse_and_types_open_their_lineages_and_own_regions():
    peaks = simulate_peaks(PeakSimulationParams(n_cells=600, n_peaks=1000, n_types=4, seed=0))
    binary = peaks.layers["counts"].toarray() > 0
    assert 0.01 < binary.mean() < 0.1  # a few % of regions per cell, as in real scATAC
    labels = peaks.obs["cell_type"].astype(str).to_numpy()
    opened_by = peaks.var["opened_by"].to_numpy()

    def open_share(cells, regions):
        return binary[cells][:, opened_by == regions].mean()

    # types 0, 1 form lineage 0: its regions open in both, closed in types 2, 3
    lineage_0 = np.isin(labels, ["type_0", "type_1"])
    assert (peaks.obs["lineage"].to_numpy() == "lineage_0").tolist() == lineage_0.tolist()
    assert open_share(lineage_0, "lineage_0") > 5 * open_share(~lineage_0, "lineage_0")
    # type 2's own regions: open most in it, at the leak's share in the others (graded, not on/off)
    own, others = labels == "type_2", labels != "type_2"
    assert 2 < open_share(own, "type_2") / open_share(others, "type_2") < 5
    with pytest.raises(ValueError, match="do not fit"):
        simulate_peaks(PeakSimulationParams(n_peaks=10, n_types=6, specific_fraction=0.3))
    with pytest.raises(ValueError, match="n_lineages"):
        simulate_peaks(PeakSimulationParams(n_types=3, n_lineages=4))
