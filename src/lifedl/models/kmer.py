"""The sequence baselines: ``kmer`` (k-mer frequencies) and ``gc`` (GC content alone), each with an L2 logistic
regression.

Each sequence becomes the frequencies of all 4^k k-mers (counted on the given strand, divided by the
number of k-mers in the sequence), standardised per k-mer; a scikit-learn logistic regression (L2,
strength ``C``) predicts the class. k is chosen from ``k_values`` by the auROC on a seeded, stratified
validation split of the non-test rows, then the model is refitted on all non-test rows with that k.
Test rows (``obs[spec.split] == 'test'``) are never seen. No training loop: ``setup`` returns no
network, and ``finish(None)`` fits. The ``gc`` model reads one feature, the fraction of G and C: where it
scores well, the classes differ in composition, and a motif claim must beat it (and hold on GC-matched rows).
"""

from __future__ import annotations

from typing import Any

import anndata as ad
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from lifedl.data.sequences import gc_content, sequence_codes, training_rows
from lifedl.data.spec import DatasetSpec
from lifedl.errors import LifedlError
from lifedl.models.base import Setup
from lifedl.tl.classification import classification_metrics

GC_ONLY = 0  # the "k" of the gc model: its one feature is the GC fraction


def kmer_frequencies(codes: np.ndarray, k: int) -> np.ndarray:
    """N x 4^k frequencies of the k-mers of each sequence (k-mer index = its codes read as a base-4 number)."""
    codes = np.asarray(codes, dtype=np.int64)
    n, length = codes.shape
    if not 1 <= k <= length:
        raise LifedlError(
            f"k-mers of length {k} do not fit sequences of length {length}; choose k_values in 1..{length}."
        )
    windows = length - k + 1
    index = np.zeros((n, windows), dtype=np.int64)
    for offset in range(k):
        index = index * 4 + codes[:, offset : offset + windows]
    index += (np.arange(n, dtype=np.int64) * 4**k)[:, None]
    counts = np.bincount(index.ravel(), minlength=n * 4**k).reshape(n, 4**k)
    return (counts / windows).astype(np.float32)


def _stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation row indices with each class split in the same proportion."""
    rng = np.random.default_rng(seed)
    val = []
    for label in sorted(set(labels)):
        rows = rng.permutation(np.flatnonzero(labels == label))
        n_val = min(len(rows) - 1, max(1, round(fraction * len(rows)))) if len(rows) > 1 else 0
        val.append(rows[:n_val])
    val = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(labels)), val), val


def sequence_features(codes: np.ndarray, k: int) -> np.ndarray:
    """k-mer frequencies, or (k = GC_ONLY) an N x 1 column of GC fractions."""
    if k == GC_ONLY:
        return gc_content(codes)[:, None].astype(np.float32)
    return kmer_frequencies(codes, k)


class KmerModel:
    def __init__(
        self, params, classes, k, feature_mean, feature_scale, coef, intercept, final_metrics=None, arch="kmer"
    ):
        self.arch, self.params = arch, dict(params)
        self.classes, self.k = [str(c) for c in classes], int(k)
        self.feature_mean = np.asarray(feature_mean, dtype=np.float64)
        self.feature_scale = np.asarray(feature_scale, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)  # 1 x 4^k (two classes) or classes x 4^k
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.final_metrics = dict(final_metrics or {})

    def _proba(self, codes: np.ndarray) -> np.ndarray:
        features = (sequence_features(codes, self.k) - self.feature_mean) / self.feature_scale
        logits = features @ self.coef.T + self.intercept
        if len(self.classes) == 2:  # as scikit-learn: sigmoid of the second class's score
            positive = 1 / (1 + np.exp(-logits[:, 0]))
            return np.column_stack([1 - positive, positive])
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    def predict_proba(self, adata: ad.AnnData) -> np.ndarray:
        """n x len(classes) class probabilities, columns in ``classes`` order."""
        return self._proba(sequence_codes(adata, "the sequences to predict"))

    def checkpoint(self) -> dict[str, Any]:
        # Plain tensors, not a pickled scikit-learn object: readable by any version, and by weights-only loading.
        return {
            "arch": self.arch,
            "params": self.params,
            "classes": self.classes,
            "k": self.k,
            "feature_mean": torch.from_numpy(self.feature_mean),
            "feature_scale": torch.from_numpy(self.feature_scale),
            "coef": torch.from_numpy(self.coef),
            "intercept": torch.from_numpy(self.intercept),
            "final_metrics": self.final_metrics,
        }


def _fit(codes: np.ndarray, labels: np.ndarray, classes: list[str], k: int, C: float, seed: int) -> KmerModel:
    features = sequence_features(codes, k).astype(np.float64)
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    regression = LogisticRegression(C=C, max_iter=5000, random_state=seed)
    regression.fit((features - mean) / scale, labels)
    if list(regression.classes_) != classes:
        raise AssertionError(f"scikit-learn classes {list(regression.classes_)} differ from {classes}")
    return KmerModel({}, classes, k, mean, scale, regression.coef_, regression.intercept_)


def fit_kmer_model(codes: np.ndarray, labels: np.ndarray, classes: list[str], params: dict, seed: int) -> KmerModel:
    """Choose k on a validation split of the given rows, refit on all of them (callers pass non-test rows only)."""
    labels = np.asarray(labels).astype(str)
    k_values = sorted({int(k) for k in params["k_values"]})
    if not k_values:
        raise LifedlError("kmer: 'k_values' is empty; list at least one k-mer length, e.g. [1, 2, 3, 4, 5, 6].")
    train, val = _stratified_split(labels, params["val_fraction"], seed)
    metrics: dict[str, float] = {"n_train": float(len(labels)), "n_val": float(len(val))}
    scores = {}
    for k in k_values:
        model = _fit(codes[train], labels[train], classes, k, params["C"], seed)
        scores[k] = classification_metrics(labels[val], model._proba(codes[val]), classes)["auroc"]
        metrics[f"val_auroc_k{k}"] = scores[k]
    valid = {k: s for k, s in scores.items() if np.isfinite(s)}
    best = max(valid, key=lambda k: (valid[k], -k)) if valid else k_values[0]  # ties: the shorter k
    model = _fit(codes, labels, classes, best, params["C"], seed)
    model.params = dict(params)
    model.final_metrics = {**metrics, "k": float(best), "val_auroc": scores[best]}
    return model


def setup(adata: ad.AnnData, params: dict, spec: DatasetSpec, seed: int, arch: str = "kmer") -> Setup:
    codes, labels, classes = training_rows(adata, spec, arch)

    def finish(result: None) -> KmerModel:
        if arch == "gc":  # nothing to choose: one feature, fitted on every non-test row
            model = _fit(codes, labels, classes, GC_ONLY, params["C"], seed)
            model.arch, model.params = arch, dict(params)
            model.final_metrics = {"n_train": float(len(labels))}
            return model
        return fit_kmer_model(codes, labels, classes, params, seed)

    return Setup(network=None, arrays={}, finish=finish)


def from_checkpoint(checkpoint: dict) -> KmerModel:
    def array(name):
        value = checkpoint[name]
        return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)

    return KmerModel(
        checkpoint["params"],
        checkpoint["classes"],
        checkpoint["k"],
        array("feature_mean"),
        array("feature_scale"),
        array("coef"),
        array("intercept"),
        checkpoint["final_metrics"],
        checkpoint["arch"],
    )
