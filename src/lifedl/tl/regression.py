"""How well predicted values recover measured ones."""

from __future__ import annotations

import numpy as np


def regression_metrics(observed, predicted) -> dict[str, float]:
    """RMSE, MAE, Pearson r and n_test (r is NaN where either side is constant or there are under 2 values)."""
    observed, predicted = np.asarray(observed, dtype=float), np.asarray(predicted, dtype=float)
    if observed.shape != predicted.shape:
        raise ValueError(f"observed {observed.shape} and predicted {predicted.shape} differ in shape")
    error = predicted - observed
    varied = len(observed) > 1 and observed.std() > 0 and predicted.std() > 0
    return {
        "rmse": float(np.sqrt(np.mean(error**2))) if len(error) else float("nan"),
        "mae": float(np.mean(np.abs(error))) if len(error) else float("nan"),
        "pearson_r": float(np.corrcoef(observed, predicted)[0, 1]) if varied else float("nan"),
        "n_test": float(len(observed)),
    }


def binned_calibration(observed, predicted, n_bins: int = 10) -> list[dict[str, float]]:
    """The regression reliability curve: rows sorted by prediction into ``n_bins`` bins of (nearly) equal size;
    per bin the mean predicted and mean observed value and the share of rows (on the diagonal when the
    predictions are calibrated)."""
    observed, predicted = np.asarray(observed, dtype=float), np.asarray(predicted, dtype=float)
    order = np.argsort(predicted, kind="stable")
    return [
        {
            "bin": float(b),
            "predicted": float(predicted[rows].mean()),
            "observed": float(observed[rows].mean()),
            "share": len(rows) / len(order),
        }
        for b, rows in enumerate(np.array_split(order, min(n_bins, len(order))))
    ]
