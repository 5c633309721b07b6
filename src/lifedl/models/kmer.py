"""The sequence baselines: ``kmer`` (k-mer frequencies) and ``gc`` (GC content alone), each with an L2 logistic
regression.

Each sequence becomes the frequencies of its k-mers (divided by the number of k-mers in the sequence), a
k-mer pooled with its reverse complement (either strand), standardised per feature; a scikit-learn logistic
regression (L2, strength ``C``) predicts the class. k and C are chosen together from ``k_values`` x
``C_values`` by the auROC on the data set's validation rows, then the model is refitted on the train and
validation rows with them. Test rows are never seen. No training loop: ``setup`` returns no
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
from lifedl.data.splits import TRAIN, VALIDATION
from lifedl.errors import LifedlError
from lifedl.models.base import Setup, TrainedModel
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


def reverse_complement_classes(k: int) -> np.ndarray:
    """Per k-mer index (codes A=0 C=1 G=2 T=3 read as a base-4 number), the column of its class when a k-mer and
    its reverse complement count as one (a motif binds either strand): 4^k k-mers into (4^k + 4^(k/2)) / 2."""
    index = np.arange(4**k)
    digits = (index[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4
    complement = 3 - digits[:, ::-1]  # reversed, each letter complemented
    reverse = complement @ 4 ** np.arange(k - 1, -1, -1)
    return np.unique(np.minimum(index, reverse), return_inverse=True)[1]


def sequence_features(codes: np.ndarray, k: int) -> np.ndarray:
    """k-mer frequencies, each k-mer pooled with its reverse complement, or (k = GC_ONLY) an N x 1 column of GC
    fractions."""
    if k == GC_ONLY:
        return gc_content(codes)[:, None].astype(np.float32)
    frequencies = kmer_frequencies(codes, k)
    classes = reverse_complement_classes(k)
    pooled = np.zeros((len(frequencies), classes.max() + 1), dtype=np.float32)
    np.add.at(pooled.T, classes, frequencies.T)
    return pooled


class KmerModel(TrainedModel):
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

    def own_state(self) -> dict[str, Any]:
        # Plain tensors, not a pickled scikit-learn object: readable by any version, and by weights-only loading.
        return {
            "classes": self.classes,
            "k": self.k,
            "feature_mean": torch.from_numpy(self.feature_mean),
            "feature_scale": torch.from_numpy(self.feature_scale),
            "coef": torch.from_numpy(self.coef),
            "intercept": torch.from_numpy(self.intercept),
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


def fit_kmer_model(
    codes: np.ndarray, labels: np.ndarray, classes: list[str], split: np.ndarray, params: dict, seed: int
) -> KmerModel:
    """Choose k and C together by the auROC on the validation rows (``split``), refit on the train and validation
    rows with them (callers pass non-test rows only)."""
    labels = np.asarray(labels).astype(str)
    k_values = sorted({int(k) for k in params["k_values"]})
    c_values = sorted({float(c) for c in params["C_values"]})
    if not k_values or not c_values:
        raise LifedlError(
            "kmer: 'k_values' and 'C_values' each need at least one value, e.g. k_values [1, 2, 3, 4, 5, 6] and "
            "C_values [0.01, 0.1, 1.0, 10.0]."
        )
    train, val = np.flatnonzero(split == TRAIN), np.flatnonzero(split == VALIDATION)
    metrics: dict[str, float] = {"n_train": float(len(train)), "n_val": float(len(val))}
    scores = {}
    for k in k_values:
        for c in c_values:
            model = _fit(codes[train], labels[train], classes, k, c, seed)
            scores[k, c] = classification_metrics(labels[val], model._proba(codes[val]), classes)["auroc"]
        metrics[f"val_auroc_k{k}"] = max(scores[k, c] for c in c_values)
    valid = {choice: score for choice, score in scores.items() if np.isfinite(score)}
    # ties: the shorter k, then the stronger regularisation
    best_k, best_c = max(valid, key=lambda kc: (valid[kc], -kc[0], -kc[1])) if valid else (k_values[0], c_values[0])
    model = _fit(codes, labels, classes, best_k, best_c, seed)
    model.params = dict(params)
    model.final_metrics = {**metrics, "k": float(best_k), "C": best_c, "val_auroc": scores[best_k, best_c]}
    return model


def setup(adata: ad.AnnData, params: dict, spec: DatasetSpec, seed: int, arch: str = "kmer") -> Setup:
    codes, labels, classes, split = training_rows(adata, spec, arch)

    def finish(result: None) -> KmerModel:
        if arch == "gc":  # nothing to choose: one feature, fitted on every non-test row
            model = _fit(codes, labels, classes, GC_ONLY, params["C"], seed)
            model.arch, model.params = arch, dict(params)
            model.final_metrics = {"n_train": float(len(labels))}
            return model
        return fit_kmer_model(codes, labels, classes, split, params, seed)

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
