"""Measures over seeds (or held-out types): every comparative table reports mean and sd, never one run, and every
"A beats B" is a paired difference over the same seeds with a bootstrap 95 % interval (:func:`paired_difference`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

# Measures where less is better (the rest: more is better)
LOWER_IS_BETTER = frozenset(
    {"nll", "ece", "brier", "rmse", "mae", "denoise_mse_hidden_entries", "evaluations_to_95pct", "fit_seconds"}
)
BOOTSTRAP_SAMPLES = 10_000
VERDICTS = ("better", "worse", "within noise", "one seed")


def mean_and_sd(runs: pd.DataFrame, measures: Iterable[str]) -> dict[str, float]:
    """``<measure>_mean`` and ``<measure>_sd`` (ddof 1; empty for one run) of each measure over the rows."""
    row = {}
    for measure in measures:
        row[f"{measure}_mean"] = runs[measure].mean()
        row[f"{measure}_sd"] = runs[measure].std(ddof=1) if len(runs) > 1 else float("nan")
    return row


def paired_difference(values, baseline_values, measure: str, seed: int = 0) -> dict[str, float | str]:
    """The mean over seeds of ``values - baseline_values`` (paired: the same seed's two numbers, same order), its
    bootstrap 95 % interval (seeds resampled with replacement, ``BOOTSTRAP_SAMPLES`` times) and the verdict read
    from the interval: 'better' or 'worse' (for the first, by the measure's direction) when the interval excludes
    0, 'within noise' when it holds 0, 'one seed' when there is nothing to resample."""
    differences = np.asarray(values, dtype=float) - np.asarray(baseline_values, dtype=float)
    differences = differences[np.isfinite(differences)]
    row: dict[str, float | str] = {"n_seeds": float(len(differences))}
    if len(differences) == 0:
        return {**row, "difference_mean": np.nan, "ci_low": np.nan, "ci_high": np.nan, "verdict": "one seed"}
    row["difference_mean"] = float(differences.mean())
    if len(differences) < 2:
        return {**row, "ci_low": np.nan, "ci_high": np.nan, "verdict": "one seed"}
    resampled = np.random.default_rng(seed).choice(differences, (BOOTSTRAP_SAMPLES, len(differences)))
    low, high = np.percentile(resampled.mean(axis=1), [2.5, 97.5])
    sign = -1.0 if measure in LOWER_IS_BETTER else 1.0
    if low > 0 or high < 0:
        verdict = "better" if sign * row["difference_mean"] > 0 else "worse"
    else:
        verdict = "within noise"
    return {**row, "ci_low": float(low), "ci_high": float(high), "verdict": verdict}


def paired_comparisons(
    per_seed: pd.DataFrame, pairs: Iterable[tuple[str, str]], measures: Iterable[str], seed: int = 0
) -> pd.DataFrame:
    """One row per (model, baseline, measure): :func:`paired_difference` over the seeds both were run with
    (``per_seed``: one row per arch and seed, a column per measure; ``pairs``: (model, baseline) architectures)."""
    rows = []
    for arch, baseline in pairs:
        ours = per_seed[per_seed["arch"] == arch].set_index("seed")
        theirs = per_seed[per_seed["arch"] == baseline].set_index("seed")
        seeds = sorted(set(ours.index) & set(theirs.index))
        for measure in measures:
            if measure not in per_seed or ours[measure].isna().all() or theirs[measure].isna().all():
                continue
            difference = paired_difference(ours.loc[seeds, measure], theirs.loc[seeds, measure], measure, seed)
            rows.append({"arch": arch, "baseline": baseline, "measure": measure, **difference})
    columns = ["arch", "baseline", "measure", "n_seeds", "difference_mean", "ci_low", "ci_high", "verdict"]
    return pd.DataFrame(rows, columns=columns)
