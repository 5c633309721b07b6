"""Every data set's rows, resolved once into train / validation / test (``obs['lifedl_split']``).

The QC rule draws the split and stores it with the data, so every model and baseline of a data set sees the
same rows: they train on ``train``, stop early and make every choice (hyper-parameters, k, C, temperature,
designs) on ``validation``, and only ``test`` rows are scored. Rows the datasets sheet marks 'test' (its
``split`` column, e.g. janggu's own test peaks or a scaffold split) stay test; the rest are drawn at random,
seeded and stratified by the labels where the labels are classes. Rows that must stay together (the tiles at one
place of a z-stack, ``obs['lifedl_split_group']``) are drawn group by group.
"""

from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np
import pandas as pd

from lifedl.errors import LifedlError

SPLIT_KEY = "lifedl_split"
# Rows that must share a split (tiles of one place in a z-stack): obs column whose values are the units drawn
GROUP_KEY = "lifedl_split_group"
TRAIN, VALIDATION, TEST = "train", "validation", "test"
SPLITS = (TRAIN, VALIDATION, TEST)


@dataclasses.dataclass(frozen=True)
class SplitParams:
    """config 'split': the share of rows held out as test (where the sheet marks none), the share of the
    remaining rows that validates, and the seed of the draw (one split for every model seed)."""

    test_fraction: float = 0.2
    validation_fraction: float = 0.2
    seed: int = 0

    @classmethod
    def from_config(cls, values) -> SplitParams:
        return cls(**dict(values or {}))


def _strata(adata: ad.AnnData, spec) -> np.ndarray:
    """Per row, the group whose share each split keeps: the class where the labels are classes (unlabelled rows
    a group of their own), one group where there are none or they are a continuous target (molecules)."""
    if not spec.labels or spec.labels not in adata.obs or spec.kind == "graphs":
        return np.zeros(adata.n_obs, dtype=np.int64)
    return pd.factorize(adata.obs[spec.labels].astype(str).to_numpy())[0]


def _draw(strata: np.ndarray, candidates: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """``fraction`` of each stratum's candidate rows (rounded), as a mask over all rows."""
    chosen = np.zeros(len(strata), dtype=bool)
    for stratum in np.unique(strata[candidates]):
        rows = rng.permutation(np.flatnonzero(candidates & (strata == stratum)))
        chosen[rows[: round(fraction * len(rows))]] = True
    return chosen


def assign_splits(adata: ad.AnnData, spec, params: SplitParams = SplitParams()) -> np.ndarray:
    """'train', 'validation' or 'test' per row (see the module's docstring); at least one row of each."""
    rng = np.random.default_rng(params.seed)
    if GROUP_KEY in adata.obs and not spec.split:  # whole groups drawn, each group's rows in one split
        codes, groups = pd.factorize(adata.obs[GROUP_KEY].astype(str).to_numpy())
        one_stratum, every_group = np.zeros(len(groups), dtype=np.int64), np.ones(len(groups), dtype=bool)
        test_groups = _draw(one_stratum, every_group, params.test_fraction, rng)
        test, validation = test_groups[codes], _draw(one_stratum, ~test_groups, params.validation_fraction, rng)[codes]
    else:
        strata = _strata(adata, spec)
        everything = np.ones(adata.n_obs, dtype=bool)
        test = spec.is_test(adata) if spec.split else _draw(strata, everything, params.test_fraction, rng)
        validation = _draw(strata, ~test, params.validation_fraction, rng)
    split = np.where(test, TEST, np.where(validation, VALIDATION, TRAIN)).astype(str)
    counts = split_counts(split)
    if min(counts.values()) == 0:
        raise LifedlError(
            f"{spec.where}: {adata.n_obs} rows split into {counts}; every split needs rows. Raise "
            "split.test_fraction or split.validation_fraction in config/config.yaml, or use more rows"
            + (f" (the sheet's split column '{spec.split}' marks the test rows)." if spec.split else ".")
        )
    return split


def split_counts(split: np.ndarray) -> dict[str, int]:
    """Rows per split, in SPLITS order."""
    return {name: int((split == name).sum()) for name in SPLITS}


def add_splits(adata: ad.AnnData, spec, params: SplitParams = SplitParams()) -> dict[str, int]:
    """Store :func:`assign_splits` in ``obs[SPLIT_KEY]``; returns the rows per split."""
    split = assign_splits(adata, spec, params)
    adata.obs[SPLIT_KEY] = pd.Categorical(split, categories=list(SPLITS))
    return split_counts(split)


def split_of(adata: ad.AnnData, where: str = "the data") -> np.ndarray:
    """The stored split per row ('train', 'validation', 'test'); an error says how to get one."""
    if SPLIT_KEY not in adata.obs:
        raise LifedlError(
            f"{where}: obs has no '{SPLIT_KEY}' column (train / validation / test rows); the qc rule writes it "
            "(rerun it), or call lifedl.data.splits.add_splits(adata, spec) on data made by hand."
        )
    return adata.obs[SPLIT_KEY].astype(str).to_numpy()


def is_split(adata: ad.AnnData, name: str, where: str = "the data") -> np.ndarray:
    """Mask of the rows of split ``name``."""
    return split_of(adata, where) == name


def training_cells(adata: ad.AnnData) -> ad.AnnData:
    """The train split's rows, which a model without early stopping fits on (all rows where there is no split)."""
    return adata[split_of(adata) == TRAIN] if SPLIT_KEY in adata.obs else adata


def describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[name]} {name}" for name in SPLITS)


def held_out_rows(adata: ad.AnnData, spec):
    """The rows scored: the data set's test split (``obs['lifedl_split']``), which no model or choice saw."""
    return is_split(adata, TEST, spec.where)


def split_sizes(adata: ad.AnnData, spec) -> dict[str, float]:
    """Rows per split, stated in every scores table (n_train, n_validation, n_test)."""
    return {f"n_{name}": float(count) for name, count in split_counts(split_of(adata, spec.where)).items()}


def labelled_share(labels: np.ndarray, split: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Mask of the rows whose labels a classifier trained on ``fraction`` of them reads (a learning curve): that
    share of each class's train rows (at least one), drawn by ``seed``, and every validation row, so early stopping
    and the choices see the same rows at every fraction. The same seed keeps the same rows for every model."""
    labels, split = np.asarray(labels).astype(str), np.asarray(split)
    if fraction >= 1:
        return np.ones(len(labels), dtype=bool)
    strata = pd.factorize(labels)[0]
    train = split == TRAIN
    kept = _draw(strata, train, fraction, np.random.default_rng(seed))
    for stratum in np.unique(strata[train]):  # a class rounded away would be unknown to the classifier
        if not (kept & (strata == stratum)).any():
            kept[np.flatnonzero(train & (strata == stratum))[0]] = True
    return kept | ~train
