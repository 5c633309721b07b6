"""The reference-mapping measures (lifedl.tl.mapping) on hand-made embeddings: labels come from the reference's
training and validation cells only, are scored on the query's test cells only, and mixing is 0 or 1 as it should."""

import numpy as np
import pandas as pd

from lifedl.tl.mapping import mapping_scores, per_type_f1


def _cells(query_shift: float):
    """Two types at x = 0 and x = 10; reference and query cells of each, the query moved by ``query_shift``."""
    rng = np.random.default_rng(0)
    labels = np.tile(["B", "T"], 200)
    reference = np.repeat([True, False], 200)
    latent = np.stack([np.where(labels == "B", 0.0, 10.0) + rng.normal(0, 0.3, 400), rng.normal(0, 0.3, 400)], 1)
    latent[~reference, 1] += query_shift
    split = np.tile(["train", "validation", "test", "test"], 100)  # 100 test cells of each batch: k = 50 fits
    return latent, labels, reference, split, np.where(reference, "control", "stimulated")


def test_a_query_on_top_of_its_reference_gets_every_label_and_mixes_fully():
    scores, table = mapping_scores(*_cells(query_shift=0.0))
    assert scores["label_accuracy"] == 1.0 and scores["macro_f1"] == 1.0
    assert scores["n_query_test"] == 100 and scores["n_reference_labelled"] == 100  # the query's test cells only
    assert scores["batch_entropy"] > 0.8 and scores["query_types_unseen"] == 0.0
    assert list(per_type_f1(table)["f1"]) == [1.0, 1.0]


def test_a_query_far_from_its_reference_mixes_not_at_all():
    latent, labels, reference, split, batches = _cells(query_shift=100.0)
    scores, _ = mapping_scores(latent, labels, reference, split, batches)
    assert scores["batch_entropy"] == 0.0


def test_the_query_s_own_labels_never_choose_a_transferred_label():
    latent, labels, reference, split, batches = _cells(query_shift=0.0)
    scrambled = labels.copy()
    scrambled[~reference & (split != "test")] = "X"  # the query's labels outside the test cells: never read
    _, table = mapping_scores(latent, scrambled, reference, split, batches)
    assert "X" not in set(table["transferred"]) and len(table) == 100
    assert isinstance(table, pd.DataFrame)
