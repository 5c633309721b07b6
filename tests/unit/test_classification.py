"""Calibration and out-of-distribution measures of classifiers (lifedl.tl.classification)."""

import numpy as np
import pytest


def test_expected_calibration_error_on_a_hand_made_example():
    from lifedl.tl.classification import expected_calibration_error, reliability_table

    # two bins: confidence 0.9 with 1 of 2 right (gap 0.4), confidence 0.6 with 2 of 2 right (gap 0.4)
    confidence, correct = np.array([0.9, 0.9, 0.6, 0.6]), np.array([1, 0, 1, 1])
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.4)
    assert [row["accuracy"] for row in reliability_table(confidence, correct)] == [1.0, 0.5]
    # calibrated: right as often as sure, in every bin
    confidence, correct = np.array([0.5, 0.5, 1.0, 1.0]), np.array([1, 0, 1, 1])
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.0)
    assert expected_calibration_error(np.array([1.0]), np.array([1])) == 0.0  # confidence 1 falls in the last bin


def test_uncertainty_measures_and_the_unseen_class_auroc():
    from lifedl.tl.classification import accuracy_at_coverage, uncertainty_metrics, unseen_class_auroc

    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.5, 0.5]])
    metrics = uncertainty_metrics(["a", "b", "b", "a"], probabilities, ["a", "b"])
    assert metrics["nll"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.8, 0.5])))
    assert metrics["mean_confidence"] == pytest.approx(np.mean([0.9, 0.6, 0.8, 0.5]))
    # the surest half (rows 0 and 2) are both right; all four: 3 of 4 (the 0.5/0.5 tie goes to the first class)
    assert accuracy_at_coverage(probabilities, np.array([1, 0, 1, 1]), 0.5) == 1.0
    # the flattest rows are the unseen ones: entropy separates them perfectly
    assert unseen_class_auroc(probabilities, [False, True, False, True]) == 1.0
    assert np.isnan(unseen_class_auroc(probabilities, [False] * 4))
