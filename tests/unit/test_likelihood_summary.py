import numpy as np
import pandas as pd

from lifedl.tl.likelihoods import likelihood_summary


def _runs():
    rows = []
    elbo = {"nb": (-100.0, -101.0, -99.0), "zinb": (-100.5, -100.0, -99.5), "poisson": (-120, -121, -119)}
    for likelihood, values in {**elbo, "gaussian": (-50.0, -50.0, -50.0)}.items():
        for seed, value in enumerate(values):
            rows.append(
                {
                    "likelihood": likelihood,
                    "seed": seed,
                    "test_iwae_per_cell": value,
                    "test_elbo_per_cell": value - 5,
                    "epochs_trained": 80,
                    "n_test_cells": 140,
                    "mlflow_run_id": "x",
                }
            )
    return pd.DataFrame(rows)


def test_likelihoods_are_ranked_by_mean_test_iwae_over_seeds_and_the_gaussian_is_not():
    table = likelihood_summary(_runs(), "nb").set_index("likelihood")
    assert table.loc["nb", "test_iwae_per_cell_mean"] == -100.0
    assert np.isclose(table.loc["nb", "test_iwae_per_cell_sd"], 1.0)
    # per seed, the best count likelihood: nb (seeds 0 and 2), zinb (seed 1: -100.0 against nb's -101.0)
    assert table.loc[["nb", "zinb", "poisson"], "wins"].tolist() == [2, 1, 0]
    assert np.isnan(table.loc["gaussian", "rank"]) and np.isnan(table.loc["gaussian", "wins"])  # another scale
    assert table.loc["poisson", "rank"] == 3
    assert (table["true_likelihood"] == "nb").all() and (table["n_seeds"] == 3).all()


def test_one_seed_has_no_sd():
    table = likelihood_summary(_runs()[lambda runs: runs["seed"] == 0], "")
    assert table["test_iwae_per_cell_sd"].isna().all() and table["wins"].iloc[:3].tolist() == [1, 0, 0]


def test_each_likelihood_stands_against_the_best_other_with_an_interval():
    table = likelihood_summary(_runs(), "nb").set_index("likelihood")
    # nb's mean (-100.0) against zinb's (-100.0 mean too, the best other): a tie within noise
    assert table.loc["nb", "against"] in ("zinb",) and table.loc["nb", "verdict"] == "within noise"
    # poisson is 20 nats behind in every seed: worse, with an interval excluding 0
    assert table.loc["poisson", "verdict"] == "worse" and table.loc["poisson", "ci_high"] < 0
    assert np.isnan(table.loc["gaussian", "ci_low"])  # not ranked, not compared
