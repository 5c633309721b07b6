"""Measures and starting values for two modalities of the same cells: protein background levels, and how
well protein is predicted from RNA."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lifedl.pp.counts import log_normalise
from lifedl.pp.protein import clr

RIDGE_ALPHAS = (1.0, 10.0, 100.0, 1000.0)


def background_levels(protein: np.ndarray, batch: np.ndarray | None, n_batches: int, seed: int) -> np.ndarray:
    """Log of each protein's background (ambient) count per batch: the lower mean of a two-component Gaussian
    mixture of log1p counts, as totalVI starts its background prior (batches x proteins)."""
    from sklearn.mixture import GaussianMixture

    batch = np.zeros(len(protein), dtype=np.int64) if batch is None else np.asarray(batch)
    levels = np.zeros((max(n_batches, 1), protein.shape[1]))
    for b in range(levels.shape[0]):
        rows = np.log1p(protein[batch == b])
        for p in range(protein.shape[1]):
            values = rows[:, p : p + 1]
            if len(np.unique(values)) < 2:
                levels[b, p] = float(values.mean()) if len(values) else 0.0
                continue
            mixture = GaussianMixture(2, random_state=seed).fit(values)
            levels[b, p] = float(np.expm1(mixture.means_.min()))
    return np.log(np.maximum(levels, 0.1))


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each row of ``a`` with the same row of ``b`` (NaN where either row is constant)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a**2).sum(1) * (b**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * b).sum(1) / denominator, np.nan)


def prediction_correlations(observed_clr: np.ndarray, predicted_clr: np.ndarray) -> dict[str, float]:
    """Mean Pearson r per cell (across its proteins) and per protein (across cells)."""
    return {
        "per_cell": float(np.nanmean(_row_pearson(observed_clr, predicted_clr))),
        "per_protein": float(np.nanmean(_row_pearson(observed_clr.T, predicted_clr.T))),
    }


def ridge_protein_from_rna(train_rna: sp.csr_matrix, train_clr: np.ndarray, test_rna: sp.csr_matrix) -> np.ndarray:
    """A linear baseline: ridge regression of CLR protein on log-normalised RNA, its strength chosen by
    cross-validation on the training cells."""
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=RIDGE_ALPHAS).fit(log_normalise(train_rna).toarray(), train_clr)
    return model.predict(log_normalise(test_rna).toarray())


def protein_prediction_scores(
    observed: np.ndarray,
    predicted: np.ndarray,
    train_protein: np.ndarray,
    train_rna: sp.csr_matrix,
    test_rna: sp.csr_matrix,
) -> dict[str, float]:
    """Protein predicted from RNA alone on held-out cells, on the CLR scale, beside two baselines: each
    protein's mean over the training cells (per protein it has no spread, so only its per-cell r is
    defined) and a ridge regression on the RNA."""
    observed_clr, train_clr = clr(observed), clr(train_protein)
    model = prediction_correlations(observed_clr, clr(predicted))
    mean = np.broadcast_to(train_clr.mean(axis=0), observed_clr.shape)
    ridge = prediction_correlations(observed_clr, ridge_protein_from_rna(train_rna, train_clr, test_rna))
    return {
        "protein_r_per_cell": model["per_cell"],
        "protein_r_per_protein": model["per_protein"],
        "protein_r_per_cell_mean_baseline": prediction_correlations(observed_clr, mean)["per_cell"],
        "protein_r_per_cell_ridge": ridge["per_cell"],
        "protein_r_per_protein_ridge": ridge["per_protein"],
        "protein_n_heldout_cells": float(len(observed)),
    }
