"""Figures of the uncertainty family: reliability and coverage, entropy of unseen cells, accuracy over posterior
draws (seed 004's histogram). Predictions are the classify step's tables (label, unseen_class, entropy, p_*)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lifedl.tl.classification import expected_calibration_error, reliability_table


def _seen(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and whether the top class is right, on the test rows of classes the model trained on."""
    seen = table[~table["unseen_class"].astype(bool)]
    columns = [c for c in seen.columns if c.startswith("p_")]
    probabilities = seen[columns].to_numpy(dtype=float)
    predicted = np.asarray([c.removeprefix("p_") for c in columns])[probabilities.argmax(axis=1)]
    return probabilities, predicted == seen["label"].astype(str).to_numpy()


def calibration_figure(
    predictions: Mapping[str, pd.DataFrame],
    unseen_class: str = "",
    draw_accuracies: Mapping[str, np.ndarray] | None = None,
    accuracies: Mapping[str, float] | None = None,
    unit: str = "cells",
    n_bins: int = 15,
) -> plt.Figure:
    """Reliability diagram (accuracy against confidence in equal-width bins; the diagonal is perfect calibration),
        accuracy against coverage (the least certain cells, by predictive entropy, left out), the predictive entropy
        of test cells of trained classes against cells of the class no model saw (``unseen_class``), and seed 004's
        histogram of test accuracy over posterior draws (``draw_accuracies``; ``accuracies`` drawn as lines). ``unit``
    names the rows in the titles."""
    from lifedl.tl.classification import unseen_class_auroc

    figure, ((reliability, coverage), (entropy, posterior)) = plt.subplots(2, 2, figsize=(11, 8))
    reliability.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    boxes, box_labels = [], []
    for arch, table in predictions.items():
        probabilities, correct = _seen(table)
        confidence = probabilities.max(axis=1)
        bins = pd.DataFrame(reliability_table(confidence, correct, n_bins))
        ece = expected_calibration_error(confidence, correct, n_bins)
        reliability.plot(bins["confidence"], bins["accuracy"], marker="o", ms=3, label=f"{arch} (ECE {ece:.3f})")
        unseen = table["unseen_class"].astype(bool).to_numpy()
        order = np.argsort(table["entropy"].to_numpy()[~unseen], kind="stable")
        kept = np.arange(1, len(order) + 1)
        coverage.plot(kept / len(order), np.cumsum(correct[order]) / kept, label=arch)
        if unseen.any():
            auroc = unseen_class_auroc(table[[c for c in table.columns if c.startswith("p_")]].to_numpy(), unseen)
            boxes += [table["entropy"].to_numpy()[~unseen], table["entropy"].to_numpy()[unseen]]
            box_labels += [f"{arch}\ntrained", f"{arch}\nunseen\nauROC {auroc:.2f}"]
    reliability.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top class probability)", ylabel="accuracy")
    reliability.set_title(f"Reliability, {n_bins} bins (test {unit}, trained classes)", fontsize=9)
    reliability.legend(fontsize=7)
    coverage.set(xlim=(0, 1), xlabel=f"coverage (surest share of {unit} kept)", ylabel=f"accuracy on the kept {unit}")
    coverage.set_title("Accuracy against coverage", fontsize=9)
    coverage.legend(fontsize=7)
    if boxes:
        entropy.boxplot(boxes, tick_labels=box_labels)
        entropy.tick_params(axis="x", labelsize=7)
        entropy.set_title(f"Entropy of an unseen class ({unseen_class}) vs trained classes", fontsize=9)
    else:
        entropy.text(0.5, 0.5, "no held-out class in this data set\n(sheet column 'heldout')", ha="center")
        entropy.set_axis_off()
    entropy.set_ylabel("predictive entropy (nats)")
    _posterior_histogram(posterior, draw_accuracies or {}, accuracies or {}, unit)
    figure.tight_layout()
    return figure


def _posterior_histogram(ax, draw_accuracies: Mapping[str, np.ndarray], accuracies: Mapping[str, float], unit) -> None:
    """Each network drawn from the posterior (or dropout mask) scored alone on the test cells, with the accuracy of
    the averaged prediction and of the deterministic network as lines."""
    for arch, values in draw_accuracies.items():
        ax.hist(values, bins=15, alpha=0.6, label=f"{arch}: {len(values)} draws")
    for (arch, value), style in zip(accuracies.items(), ("-", "--", ":", "-.")):
        ax.axvline(value, color="black", ls=style, lw=1, label=f"{arch}: {value:.3f}")
    ax.set(xlabel=f"test accuracy ({unit} of trained classes)", ylabel="draws")
    ax.set_title("Test accuracy over posterior draws (seed 004)", fontsize=9)
    ax.legend(fontsize=7)
