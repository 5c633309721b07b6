"""scVAE's likelihood comparison summarised over seeds.

Likelihoods are ranked by the importance-weighted bound (IWAE, 100 samples) on the marginal log-likelihood of the
data set's test cells, the bound scVI reports; scVAE (Grønbech et al. 2020) compares models by such a bound. Only count likelihoods are ranked: the gaussian
model scores log-normalised values, a density on another scale. ``wins`` counts the seeds in which a
likelihood had the best ELBO of the count likelihoods; on a simulation, ``true_likelihood`` names the
one the cells were drawn from, so the table says whether the truth wins; each count likelihood also stands against
the best other one, paired by seed, with a bootstrap 95 % interval and the verdict it gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifedl.tl.seeds import mean_and_sd, paired_difference

RANKED_BY = "test_iwae_per_cell"
MEASURES = (RANKED_BY, "test_elbo_per_cell", "epochs_trained")
RUN_COLUMNS = ["likelihood", "seed", *MEASURES, "n_test_cells", "mlflow_run_id"]
NOT_RANKED = ("gaussian",)


def likelihood_summary(runs: pd.DataFrame, true_likelihood: str = "") -> pd.DataFrame:
    """One row per likelihood (``runs``: one row per likelihood and seed): mean and sd of each measure over
    seeds, test cells, the rank of the mean IWAE bound among count likelihoods and the seeds won."""
    counted = runs[~runs["likelihood"].isin(NOT_RANKED)]
    best = counted.loc[counted.groupby("seed")[RANKED_BY].idxmax(), ["seed", "likelihood"]]
    rows = []
    for likelihood, group in runs.groupby("likelihood", sort=False):
        row = {"likelihood": likelihood, "n_seeds": len(group), "n_test_cells": group["n_test_cells"].mean()}
        row.update(mean_and_sd(group, MEASURES))
        row["wins"] = int((best["likelihood"] == likelihood).sum()) if likelihood not in NOT_RANKED else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    ranked = ~table["likelihood"].isin(NOT_RANKED)
    table["rank"] = table[f"{RANKED_BY}_mean"].where(ranked).rank(ascending=False)
    table["true_likelihood"] = true_likelihood
    return table.merge(_against_the_best_other(counted), on="likelihood", how="left")


def _against_the_best_other(counted: pd.DataFrame) -> pd.DataFrame:
    """Each count likelihood against the best other one by mean bound: the paired difference over seeds with its
    bootstrap interval and verdict (the first-ranked 'better' only where its lead holds beyond the noise)."""
    means = counted.groupby("likelihood")[RANKED_BY].mean()
    by_seed = counted.pivot_table(index="seed", columns="likelihood", values=RANKED_BY)
    rows = []
    for likelihood in means.index:
        others = means.drop(likelihood)
        if others.empty:
            continue
        rival = others.idxmax()
        difference = paired_difference(by_seed[likelihood], by_seed[rival], RANKED_BY)
        rows.append({"likelihood": likelihood, "against": rival, **difference})
    columns = ["likelihood", "against", "difference_mean", "ci_low", "ci_high", "verdict"]
    return pd.DataFrame(rows, columns=[*columns, "n_seeds"])[columns]
