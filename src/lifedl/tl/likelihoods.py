"""scVAE's likelihood comparison summarised over seeds.

Likelihoods are ranked by the held-out ELBO per cell, the lower bound on the marginal log-likelihood
that scVAE (Grønbech et al. 2020) compares models by. Only count likelihoods are ranked: the gaussian
model scores log-normalised values, a density on another scale. ``wins`` counts the seeds in which a
likelihood had the best ELBO of the count likelihoods; on a simulation, ``true_likelihood`` names the
one the cells were drawn from, so the table says whether the truth wins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifedl.tl.seeds import mean_and_sd

RANKED_BY = "heldout_elbo_per_cell"
MEASURES = (RANKED_BY, "heldout_reconstruction_loglik_per_cell", "epochs_trained")
RUN_COLUMNS = ["likelihood", "seed", *MEASURES, "n_val_cells", "mlflow_run_id"]
NOT_RANKED = ("gaussian",)


def likelihood_summary(runs: pd.DataFrame, true_likelihood: str = "") -> pd.DataFrame:
    """One row per likelihood (``runs``: one row per likelihood and seed): mean and sd of each measure over
    seeds, held-out cells per seed, the rank of the mean ELBO among count likelihoods and the seeds won."""
    counted = runs[~runs["likelihood"].isin(NOT_RANKED)]
    best = counted.loc[counted.groupby("seed")[RANKED_BY].idxmax(), ["seed", "likelihood"]]
    rows = []
    for likelihood, group in runs.groupby("likelihood", sort=False):
        row = {"likelihood": likelihood, "n_seeds": len(group), "n_val_cells": group["n_val_cells"].mean()}
        row.update(mean_and_sd(group, MEASURES))
        row["wins"] = int((best["likelihood"] == likelihood).sum()) if likelihood not in NOT_RANKED else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    ranked = ~table["likelihood"].isin(NOT_RANKED)
    table["rank"] = table[f"{RANKED_BY}_mean"].where(ranked).rank(ascending=False)
    table["true_likelihood"] = true_likelihood
    return table
