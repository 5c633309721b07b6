"""How well predicted class probabilities recover known labels (scikit-learn implementations)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def classification_metrics(labels, probabilities, classes) -> dict[str, float]:
    """auROC, auPRC, accuracy and n_test of ``probabilities`` (n x len(classes), columns in ``classes`` order).

    Two classes: auROC and auPRC of the second class (classes sorted: e.g. 'positive' of negative/positive).
    More: the macro average of one-vs-rest auROC and auPRC over the classes present in ``labels``.
    A measure that cannot be computed (one class only among the labels) is NaN.
    """
    labels = np.asarray(labels).astype(str)
    classes = [str(c) for c in classes]
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or probabilities.shape != (len(labels), len(classes)):
        raise ValueError(
            f"probabilities must be {len(labels)} x {len(classes)} (labels x classes), got {probabilities.shape}"
        )
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not among the classes {classes}")
    predicted = np.asarray(classes)[probabilities.argmax(axis=1)] if len(labels) else np.array([], dtype=str)
    metrics = {
        "accuracy": float(np.mean(predicted == labels)) if len(labels) else float("nan"),
        "n_test": float(len(labels)),
    }
    if len(classes) == 2:
        truth = labels == classes[1]
        score = probabilities[:, 1]
        both = 0 < truth.sum() < len(truth)
        metrics["auroc"] = float(roc_auc_score(truth, score)) if both else float("nan")
        metrics["auprc"] = float(average_precision_score(truth, score)) if both else float("nan")
    else:
        aurocs, auprcs = [], []
        for column, name in enumerate(classes):
            truth = labels == name
            if 0 < truth.sum() < len(truth):
                aurocs.append(roc_auc_score(truth, probabilities[:, column]))
                auprcs.append(average_precision_score(truth, probabilities[:, column]))
        metrics["auroc"] = float(np.mean(aurocs)) if aurocs else float("nan")
        metrics["auprc"] = float(np.mean(auprcs)) if auprcs else float("nan")
    return metrics


def composition_matched_rows(values, labels, bin_width: float = 0.02, seed: int = 0) -> np.ndarray:
    """Rows whose classes share one distribution of ``values`` (e.g. GC content): within each bin of
    ``bin_width``, as many rows of every class as the rarest class has there, drawn at random (seeded).

    Scored on these rows, a classifier cannot win by composition alone: a GC-only model falls to chance.
    Returns a boolean mask; classes absent from a bin empty that bin.
    """
    values, labels = np.asarray(values, dtype=float), np.asarray(labels).astype(str)
    rng = np.random.default_rng(seed)
    bins = np.floor(values / bin_width).astype(np.int64)
    classes = sorted(set(labels))
    keep = np.zeros(len(values), dtype=bool)
    for value_bin in np.unique(bins):
        members = [np.flatnonzero((bins == value_bin) & (labels == c)) for c in classes]
        n = min(len(rows) for rows in members)
        for rows in members:
            keep[rng.choice(rows, size=n, replace=False)] = True
    return keep
