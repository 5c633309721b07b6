"""The learning curve of pre-training (seed 003: a model pre-trained without labels, then fine-tuned): the same
network fine-tuned from a pre-trained encoder and trained from scratch, each on a share of the training labels,
scored on the test rows; per share, the difference paired by seed with its bootstrap 95 % interval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lifedl.tl.seeds import mean_and_sd, paired_difference

ARMS = ("scratch", "pretrained")  # the network from random weights; from the pre-trained encoder
CURVE_MEASURES = ("auroc", "accuracy", "nll", "ece")


def curve_summary(runs: pd.DataFrame, measures: Sequence[str] = CURVE_MEASURES) -> pd.DataFrame:
    """One row per label fraction (``runs``: a row per seed, fraction and arm, a column per measure): each arm's
    mean and sd over seeds, and per measure the pretrained arm minus scratch, paired by seed, with its interval
    and verdict ('better' or 'worse' for pre-training by the measure's direction, or 'within noise')."""
    rows = []
    for fraction, group in runs.groupby("fraction", sort=True):
        row = {"fraction": float(fraction), "n_labelled": float(group["n_labelled"].mean())}
        arms = {arm: group[group["arm"] == arm].set_index("seed") for arm in ARMS}
        seeds = sorted(set(arms["scratch"].index) & set(arms["pretrained"].index))
        for arm, table in arms.items():
            row.update({f"{arm}_{name}": value for name, value in mean_and_sd(table.loc[seeds], measures).items()})
        for measure in measures:
            paired = paired_difference(
                arms["pretrained"].loc[seeds, measure], arms["scratch"].loc[seeds, measure], measure
            )
            row[f"{measure}_difference"] = paired["difference_mean"]
            row.update({f"{measure}_{key}": paired[key] for key in ("ci_low", "ci_high")})
            row[f"{measure}_verdict"] = paired["verdict"]
        row["n_seeds"] = float(len(seeds))
        rows.append(row)
    summary = pd.DataFrame(rows)
    stops = pretraining_stops_helping(summary)
    # readable in the docs: the share of labels from which the interval no longer favours pre-training
    summary["auroc_pretraining_stops_helping_at"] = (
        f"{stops:.0%} of the labels" if np.isfinite(stops) else "helps at every share"
    )
    return summary


def pretraining_stops_helping(summary: pd.DataFrame, measure: str = "auroc") -> float:
    """The smallest label fraction from which pre-training no longer helps: at it and at every larger fraction
    the paired interval does not lie on pre-training's side (verdict not 'better'); nan where it helps even with
    every label."""
    helps = summary.sort_values("fraction")[f"{measure}_verdict"].eq("better").to_numpy()
    fractions = summary.sort_values("fraction")["fraction"].to_numpy()
    if helps[-1]:
        return float("nan")
    last_help = np.flatnonzero(helps)
    return float(fractions[last_help[-1] + 1] if len(last_help) else fractions[0])
