"""The learning curve's summary: per label fraction, each arm over seeds and the paired difference's interval;
the fraction from which pre-training stops helping."""

import numpy as np
import pandas as pd

from lifedl.tl.learning_curve import curve_summary, pretraining_stops_helping


def _runs(gains: dict[float, float], n_seeds: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for fraction, gain in gains.items():
        for seed in range(n_seeds):
            scratch = 0.7 + 0.2 * fraction + rng.normal(0, 0.01)
            for arm, auroc in (("scratch", scratch), ("pretrained", scratch + gain + rng.normal(0, 0.002))):
                rows.append(
                    {"seed": seed, "fraction": fraction, "arm": arm, "n_labelled": 100 * fraction, "auroc": auroc}
                    | {"accuracy": auroc, "nll": 1 - auroc, "ece": 0.05}
                )
    return pd.DataFrame(rows)


def test_the_paired_difference_and_its_verdict_per_fraction():
    summary = curve_summary(_runs({0.1: 0.08, 0.3: 0.03, 1.0: 0.0}))
    assert list(summary["fraction"]) == [0.1, 0.3, 1.0]
    np.testing.assert_allclose(summary["auroc_difference"], [0.08, 0.03, 0.0], atol=0.003)
    assert list(summary["auroc_verdict"]) == ["better", "better", "within noise"]
    assert list(summary["nll_verdict"][:2]) == ["better", "better"]  # lower NLL is better
    assert (summary["auroc_ci_low"] <= summary["auroc_difference"]).all()
    assert summary["n_seeds"].eq(5).all() and summary["scratch_auroc_sd"].gt(0).all()
    assert summary["auroc_pretraining_stops_helping_at"].eq("100% of the labels").all()


def test_pretraining_stops_helping_at_the_first_fraction_after_its_last_help():
    assert pretraining_stops_helping(curve_summary(_runs({0.1: 0.08, 0.3: 0.03, 1.0: 0.0}))) == 1.0
    assert pretraining_stops_helping(curve_summary(_runs({0.1: 0.08, 0.3: 0.0, 1.0: 0.0}))) == 0.3
    assert pretraining_stops_helping(curve_summary(_runs({0.1: 0.0, 0.3: 0.0, 1.0: 0.0}))) == 0.1
    assert np.isnan(pretraining_stops_helping(curve_summary(_runs({0.1: 0.08, 0.3: 0.05, 1.0: 0.04}))))
