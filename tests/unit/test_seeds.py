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


def test_a_baseline_also_named_in_compared_with_is_compared_once_and_a_file_may_stand_for_several_seeds(tmp_path):
    """conv2d_mc_dropout is compared with conv2d_temperature as a baseline of its task and by its compared_with: one
    row per measure. hog_logreg, deterministic, passes its one metrics file for every seed."""
    from lifedl import steps

    files, seeds = [], []
    rng = np.random.default_rng(0)
    for arch in ("hog_logreg", "conv2d_temperature", "conv2d", "conv2d_mc_dropout"):
        for seed in range(3):
            path = tmp_path / f"{arch}_{seed}.tsv"
            if arch == "hog_logreg" and seed:
                path = tmp_path / f"{arch}_0.tsv"  # the main seed's scores stand for the others
            else:
                pd.DataFrame(
                    {"arch": [arch], "accuracy": [rng.uniform(0.8, 0.9)], "ece": [rng.uniform(0, 0.1)]}
                ).to_csv(path, sep="\t", index=False)
            files.append(str(path))
            seeds.append(seed)
    steps.seed_summary(files, seeds, str(tmp_path / "seeds.tsv"), str(tmp_path / "comparisons.tsv"))
    comparisons = pd.read_csv(tmp_path / "comparisons.tsv", sep="\t")
    assert not comparisons.duplicated(["arch", "baseline", "measure"]).any()
    pair = comparisons[(comparisons["arch"] == "conv2d_mc_dropout") & (comparisons["baseline"] == "conv2d_temperature")]
    assert sorted(pair["measure"]) == ["accuracy", "ece"] and (pair["n_seeds"] == 3).all()
    summary = pd.read_csv(tmp_path / "seeds.tsv", sep="\t").set_index("arch")
    assert summary.loc["hog_logreg", "n_seeds"] == 3 and summary.loc["hog_logreg", "accuracy_sd"] == 0
