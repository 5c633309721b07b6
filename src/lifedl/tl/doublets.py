"""How well a doublet score tells the planted doublets (:mod:`lifedl.data.doublets`) from the singlets.

A detector gives every cell a score, higher for likelier doublets. auROC and auPRC rank all held-out cells; the
heterotypic auROC leaves the homotypic doublets out (two cells of one type: a larger cell of that type, which no
expression-based method can tell, as the scrublet paper notes); the F1 of calling the top ``rate`` share of cells
doublets is what a user who removes the expected number of doublets gets.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from lifedl.data.doublets import DOUBLET


def doublet_metrics(labels, scores, kinds=None, rate: float | None = None) -> dict[str, float]:
    """auROC and auPRC of ``scores`` for ``labels`` ('doublet' or 'singlet'); with ``kinds`` (singlet, heterotypic,
    homotypic) also the auROC without the homotypic doublets; with ``rate`` (the share of doublets expected) the
    precision, recall and F1 of calling the ``rate`` share of highest-scoring cells doublets."""
    truth = np.asarray(labels).astype(str) == DOUBLET
    scores = np.asarray(scores, dtype=float)
    both = 0 < truth.sum() < len(truth)
    metrics = {
        "n_test": float(len(truth)),
        "n_doublets": float(truth.sum()),
        "auroc": float(roc_auc_score(truth, scores)) if both else float("nan"),
        "auprc": float(average_precision_score(truth, scores)) if both else float("nan"),
    }
    if kinds is not None:
        kept = np.asarray(kinds).astype(str) != "homotypic"
        ok = 0 < truth[kept].sum() < kept.sum()
        metrics["auroc_heterotypic"] = float(roc_auc_score(truth[kept], scores[kept])) if ok else float("nan")
    if rate is not None:
        called = np.zeros(len(truth), dtype=bool)
        called[np.argsort(-scores, kind="stable")[: round(rate * len(truth))]] = True
        true_calls = float((called & truth).sum())
        precision = true_calls / max(called.sum(), 1)
        recall = true_calls / max(truth.sum(), 1)
        metrics |= {
            "precision_at_rate": precision,
            "recall_at_rate": recall,
            "f1_at_rate": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        }
    return metrics


def precision_recall_table(labels, scores, n_points: int = 50) -> list[dict[str, float]]:
    """The precision-recall curve of ``scores``, at up to ``n_points`` recalls evenly spread from 0 to 1 (the
    highest precision reached at each): the task's curve table."""
    truth = np.asarray(labels).astype(str) == DOUBLET
    if not 0 < truth.sum() < len(truth):
        return []
    precision, recall, _ = precision_recall_curve(truth, np.asarray(scores, dtype=float))
    rows = []
    for level in np.linspace(0, 1, n_points):
        reached = recall >= level
        rows.append({"recall": float(level), "precision": float(precision[reached].max())})
    return rows
