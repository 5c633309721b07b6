"""Verdicts over seeds come from paired differences and their bootstrap intervals, never typed."""

import numpy as np
import pandas as pd

from lifedl.tl.seeds import paired_comparisons, paired_difference


def test_a_consistent_lead_is_better_a_noisy_one_within_noise():
    lead = paired_difference([0.80, 0.82, 0.81, 0.83, 0.80], [0.70, 0.71, 0.72, 0.70, 0.71], "ari")
    assert lead["verdict"] == "better" and 0 < lead["ci_low"] < lead["difference_mean"] < lead["ci_high"]
    noisy = paired_difference([0.8, 0.6, 0.9, 0.5, 0.7], [0.7, 0.7, 0.7, 0.7, 0.7], "ari")
    assert noisy["verdict"] == "within noise" and noisy["ci_low"] < 0 < noisy["ci_high"]
    # lower is better for a calibration error: a smaller ECE in every seed is 'better'
    assert paired_difference([0.02, 0.03, 0.02], [0.05, 0.06, 0.05], "ece")["verdict"] == "better"
    assert paired_difference([0.5], [0.4], "ari")["verdict"] == "one seed"


def test_comparisons_pair_the_same_seeds_only():
    per_seed = pd.DataFrame(
        {
            "arch": ["vae"] * 3 + ["pca"] * 2,
            "seed": [0, 1, 2, 0, 1],
            "ari": [0.9, 0.8, 0.1, 0.5, 0.4],
        }
    )
    table = paired_comparisons(per_seed, [("vae", "pca")], ["ari", "nmi"])
    assert table["measure"].tolist() == ["ari"] and table["n_seeds"].iloc[0] == 2  # seed 2 has no pair
    np.testing.assert_allclose(table["difference_mean"].iloc[0], 0.4)
