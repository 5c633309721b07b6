import numpy as np
import pytest

from lifedl.data import SimulationParams, simulate_counts
from lifedl.errors import LifedlError
from lifedl.pp.counts import counts_matrix, library_size_normalise
from lifedl.tl.augmentation import ARMS, arm_summary, augmentation_arms, downsample_type


@pytest.fixture(scope="module")
def cells():
    adata = simulate_counts(SimulationParams(n_cells=600, n_genes=150, n_types=3, de_log_fold_change=0.8, seed=4))
    expression = library_size_normalise(counts_matrix(adata), 20_000.0).toarray()
    labels = adata.obs["cell_type"].astype(str).to_numpy()
    training = np.random.default_rng(0).random(adata.n_obs) >= 0.3
    return expression, labels, training


def test_downsampling_keeps_n_rare_cells_of_the_type_and_every_other_training_cell(cells):
    _, labels, training = cells
    kept = downsample_type(labels, training, "type_1", 3, seed=0)
    assert (kept & (labels == "type_1")).sum() == 3 and not (kept & ~training).any()
    assert (kept[labels != "type_1"] == training[labels != "type_1"]).all()
    assert (downsample_type(labels, training, "type_1", 3, seed=1) != kept).any()  # each seed its own rare cells
    with pytest.raises(LifedlError, match="not more than n_rare"):
        downsample_type(labels, training, "type_1", 10_000, seed=0)


def test_cells_of_the_rare_type_from_its_own_distribution_raise_its_recall_over_three_cells(cells):
    """A perfect generator: real training cells of the rare type that downsampling left out."""
    expression, labels, training = cells
    kept = downsample_type(labels, training, "type_1", 3, seed=0)
    perfect = expression[training & ~kept & (labels == "type_1")]
    table = augmentation_arms(expression, labels, training, kept, perfect, "type_1", seed=0).set_index("arm")
    assert list(table.index) == list(ARMS)
    assert table.loc["rare", "n_rare_train"] == 3
    assert table.loc["oversampled", "n_rare_train"] == table.loc["generated", "n_rare_train"] == 3 + len(perfect)
    assert table.loc["generated", "recall_rare"] > table.loc["rare", "recall_rare"] + 0.2
    assert table.loc["generated", "f1_rare"] == pytest.approx(table.loc["all_cells", "f1_rare"], abs=0.1)
    summary = arm_summary(table.reset_index().assign(seed=0)).set_index("arm")
    assert (
        summary.loc["generated", "f1_rare_mean"] == table.loc["generated", "f1_rare"]
        and summary["f1_rare_sd"].isna().all()
    )
