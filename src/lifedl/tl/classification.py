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
    """Rows whose classes share one distribution of ``values`` (e.g. GC content, or length): within each bin of
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


def predictive_entropy(probabilities) -> np.ndarray:
    """Entropy (nats) of each row's class distribution: 0 when sure, log(n classes) when it cannot tell."""
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def reliability_table(confidence, correct, n_bins: int = 15) -> list[dict[str, float]]:
    """Equal-width confidence bins over [0, 1]: per non-empty bin its mean confidence, accuracy and share of rows
    (the reliability diagram; Guo et al. 2017)."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)  # confidence 1.0 falls in the last bin
    return [
        {
            "bin": float(b),
            "confidence": float(confidence[bins == b].mean()),
            "accuracy": float(correct[bins == b].mean()),
            "share": float((bins == b).mean()),
        }
        for b in np.unique(bins)
    ]


def expected_calibration_error(confidence, correct, n_bins: int = 15) -> float:
    """ECE: the share-weighted mean gap between accuracy and confidence over equal-width confidence bins."""
    if len(np.asarray(confidence)) == 0:
        return float("nan")
    table = reliability_table(confidence, correct, n_bins)
    return float(sum(row["share"] * abs(row["accuracy"] - row["confidence"]) for row in table))


def accuracy_at_coverage(probabilities, correct, coverage: float) -> float:
    """Accuracy on the ``coverage`` share of rows the model is surest of (lowest predictive entropy)."""
    correct = np.asarray(correct, dtype=float)
    n_kept = max(1, round(coverage * len(correct)))
    order = np.argsort(predictive_entropy(probabilities), kind="stable")
    return float(correct[order[:n_kept]].mean())


def uncertainty_metrics(labels, probabilities, classes, n_bins: int = 15) -> dict[str, float]:
    """How well the probabilities say how sure the model is, on rows of known classes: negative log-likelihood
    of the true class (nats per row), ECE (``n_bins`` bins), the mean confidence (above the accuracy: overconfident),
    Brier score, and accuracy when the least certain 20 % are left to a human (coverage 0.8)."""
    labels = np.asarray(labels).astype(str)
    probabilities = np.asarray(probabilities, dtype=float)
    index = {name: column for column, name in enumerate(str(c) for c in classes)}
    truth = np.array([index[label] for label in labels], dtype=np.int64)
    if len(truth) == 0:
        return dict.fromkeys(("nll", "ece", "mean_confidence", "brier", "accuracy_at_80pct_coverage"), float("nan"))
    true_probability = probabilities[np.arange(len(truth)), truth]
    correct = probabilities.argmax(axis=1) == truth
    one_hot = np.eye(len(index))[truth]
    return {
        "nll": float(-np.log(np.clip(true_probability, 1e-12, 1.0)).mean()),
        "ece": expected_calibration_error(probabilities.max(axis=1), correct, n_bins),
        "mean_confidence": float(probabilities.max(axis=1).mean()),
        "brier": float(((probabilities - one_hot) ** 2).sum(axis=1).mean()),
        "accuracy_at_80pct_coverage": accuracy_at_coverage(probabilities, correct, 0.8),
    }


def unseen_class_auroc(probabilities, unseen) -> float:
    """auROC of predictive entropy for telling rows of a class never trained on (``unseen``) from the others."""
    unseen = np.asarray(unseen, dtype=bool)
    if not 0 < unseen.sum() < len(unseen):
        return float("nan")
    return float(roc_auc_score(unseen, predictive_entropy(probabilities)))


def validation_scores(labels, probabilities, classes) -> dict[str, float]:
    """A classifier's measures on its validation rows, for its final metrics: ``val_<measure>`` and ``val_n``."""
    scores = {
        **classification_metrics(labels, probabilities, classes),
        **uncertainty_metrics(labels, probabilities, classes),
    }
    scores["n"] = scores.pop("n_test")
    return {f"val_{name}": value for name, value in scores.items()}


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017): the T > 0 minimising the negative log-likelihood of softmax(logits
    / T) on held-out rows (``labels``: class codes); a bounded search over log T in [-3, 3]."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)

    def nll(log_temperature: float) -> float:
        scaled = log_softmax(logits / np.exp(log_temperature), axis=1)
        return -float(scaled[np.arange(len(labels)), labels].mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x))


def temperature_scaled(trained, arch: str, logits: np.ndarray, labels: np.ndarray):
    """A trained classifier's copy named ``arch`` whose logits one temperature divides, fitted on the validation
    rows' ``logits`` (before any temperature) and class codes: the calibration baseline reuses the network of the
    same seed instead of training it a second time. ``trained`` has ``arch``, ``temperature`` and
    ``final_metrics``."""
    import copy

    model = copy.copy(trained)  # shares the network: nothing of it changes
    model.arch, model.final_metrics = arch, dict(trained.final_metrics)
    model.temperature = fit_temperature(logits, labels)
    model.final_metrics["temperature"] = model.temperature
    return model
