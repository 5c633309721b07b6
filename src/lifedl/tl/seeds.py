"""Measures over seeds (or held-out types): every comparative table reports mean and sd, never one run."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def mean_and_sd(runs: pd.DataFrame, measures: Iterable[str]) -> dict[str, float]:
    """``<measure>_mean`` and ``<measure>_sd`` (ddof 1; empty for one run) of each measure over the rows."""
    row = {}
    for measure in measures:
        row[f"{measure}_mean"] = runs[measure].mean()
        row[f"{measure}_sd"] = runs[measure].std(ddof=1) if len(runs) > 1 else float("nan")
    return row
