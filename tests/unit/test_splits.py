"""The split rule: every data set's rows into train / validation / test once, and no test row reaches a model."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import lifedl.models.vae as vae_module
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import SPLIT_KEY, SplitParams, add_splits, assign_splits
from lifedl.errors import LifedlError
from lifedl.train.context import TrainingContext
from lifedl.train.plans import fit_architecture, without_test_rows


def labelled(n_per_class=(60, 30, 10)) -> ad.AnnData:
    labels = np.repeat([f"type{i}" for i in range(len(n_per_class))], n_per_class)
    return ad.AnnData(np.zeros((len(labels), 2), dtype=np.float32), obs=pd.DataFrame({"cell_type": labels}))


def test_splits_are_disjoint_stratified_and_seeded():
    adata = labelled()
    spec = DatasetSpec(id="toy", labels="cell_type")
    split = assign_splits(adata, spec, SplitParams(test_fraction=0.2, validation_fraction=0.25, seed=3))
    for label, n in zip(("type0", "type1", "type2"), (60, 30, 10)):
        rows = split[adata.obs["cell_type"] == label]
        assert (rows == "test").sum() == round(0.2 * n)  # each class keeps its share in every split
        assert (rows == "validation").sum() == round(0.25 * (n - round(0.2 * n)))
    np.testing.assert_array_equal(split, assign_splits(adata, spec, SplitParams(0.2, 0.25, 3)))
    assert not np.array_equal(split, assign_splits(adata, spec, SplitParams(0.2, 0.25, 4)))


def test_the_sheets_test_rows_stay_test():
    adata = labelled()
    marked = np.zeros(adata.n_obs, dtype=bool)
    marked[::7] = True
    adata.obs["given"] = np.where(marked, "test", "train")
    split = assign_splits(adata, DatasetSpec(id="toy", labels="cell_type", split="given"))
    np.testing.assert_array_equal(split == "test", marked)  # exactly the sheet's, none drawn besides
    assert (split[~marked] == "validation").any() and (split[~marked] == "train").any()


def test_too_few_rows_for_three_splits_is_an_error():
    with pytest.raises(LifedlError, match="every split needs rows"):
        assign_splits(labelled((2,)), DatasetSpec(id="toy", labels="cell_type"))


def test_no_test_row_reaches_training_or_validation(small_counts, tmp_path, monkeypatch):
    spec = DatasetSpec(id="toy", labels="cell_type")
    add_splits(small_counts, spec)
    split = small_counts.obs[SPLIT_KEY].astype(str)
    seen = {}
    real_setup = vae_module.setup

    def spying_setup(adata, params, spec, seed, arch="vae"):
        made = real_setup(adata, params, spec, seed, arch)
        finish = made.finish

        def spying_finish(result):
            names = adata.obs_names.to_numpy()
            seen.update(given=names, train=names[result.train_index], val=names[result.val_index])
            return finish(result)

        made.finish = spying_finish
        return made

    monkeypatch.setattr(vae_module, "setup", spying_setup)
    params = {**vae_module_defaults(), "max_epochs": 2, "batch_size": 64}
    fit_architecture(small_counts, "vae", params, TrainingContext(seed=0, work_dir=tmp_path), spec)
    test = set(split.index[split == "test"])
    assert test and not test & set(seen["given"])  # the model was never handed a test cell
    assert set(seen["train"]) == set(split.index[split == "train"])
    assert set(seen["val"]) == set(split.index[split == "validation"])


def vae_module_defaults():
    from lifedl.models import get_architecture

    return get_architecture("vae").resolve_params({})


def test_training_copy_leaves_out_the_test_rows_and_x_where_counts_are_there():
    """Models read layers['counts']: the training's copy of the non-test rows keeps it (and obs, obsm) and leaves
    out X, a second matrix as large as the counts; without a counts layer X is the data and stays."""
    counts = sp.csr_matrix(np.arange(24, dtype=np.float32).reshape(6, 4))
    adata = ad.AnnData(X=counts.copy(), layers={"counts": counts}, obsm={"X_pca": np.ones((6, 2))})
    adata.obs[SPLIT_KEY] = ["train", "test", "validation", "train", "test", "train"]
    kept = without_test_rows(adata, "toy")
    assert kept.X is None and list(kept.obs[SPLIT_KEY]) == ["train", "validation", "train", "train"]
    assert kept.layers["counts"].toarray().tolist() == counts[[0, 2, 3, 5]].toarray().tolist()
    assert kept.obsm["X_pca"].shape == (4, 2)
    kept.obs["written"] = 1  # a copy: the caller's data is untouched
    assert "written" not in adata.obs and adata.X is not None
    no_counts = without_test_rows(ad.AnnData(X=counts, obs=adata.obs.copy()), "toy")
    assert no_counts.X.toarray().tolist() == counts[[0, 2, 3, 5]].toarray().tolist()
