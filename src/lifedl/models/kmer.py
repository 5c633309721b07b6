"""The sequence baselines: ``kmer`` (k-mer frequencies) and ``gc`` (GC content alone), each with an L2 logistic
regression.

Each sequence becomes the frequencies of its k-mers (divided by the number of k-mers in the sequence; padding
counts no k-mer), for DNA a k-mer pooled with its reverse complement (either strand), standardised per feature;
with ``shorter_kmers`` the frequencies of every shorter k-mer join them (for peptides, k = 2: the amino-acid
composition and the dipeptide frequencies, the peptide field's classic features); a scikit-learn logistic
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

from lifedl.data.sequences import DNA, MAX_KMERS, alphabet_name, alphabet_of, gc_content, sequence_codes, training_rows
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import TRAIN, VALIDATION
from lifedl.errors import LifedlError
from lifedl.models.base import Setup, TrainedModel
from lifedl.tl.classification import classification_metrics

GC_ONLY = 0  # the "k" of the gc model: its one feature is the GC fraction


def kmer_frequencies(codes: np.ndarray, k: int, n_letters: int = 4) -> np.ndarray:
    """N x n_letters^k frequencies of the k-mers of each sequence (k-mer index = its codes read as a base-n_letters
    number), each divided by the sequence's own number of k-mers; k-mers reaching into the padding are not counted."""
    codes = np.asarray(codes, dtype=np.int64)
    n, length = codes.shape
    if not 1 <= k <= length:
        raise LifedlError(
            f"k-mers of length {k} do not fit sequences of length {length}; choose k_values in 1..{length}."
        )
    windows, size = length - k + 1, n_letters**k
    if size > MAX_KMERS:
        raise LifedlError(
            f"k-mers of length {k} over {n_letters} letters make {size:,} features (the limit is {MAX_KMERS:,}); "
            f"choose smaller k_values for this alphabet (for peptides, k_values [1, 2] with shorter_kmers: true)."
        )
    index = np.zeros((n, windows), dtype=np.int64)
    for offset in range(k):
        index = index * n_letters + np.minimum(codes[:, offset : offset + windows], n_letters - 1)
    inside = codes[:, k - 1 :] < n_letters  # the k-mer's last letter is no padding (padding is a suffix)
    index += (np.arange(n, dtype=np.int64) * size)[:, None]
    counts = np.bincount(index[inside], minlength=n * size).reshape(n, size)
    return (counts / np.maximum(inside.sum(axis=1), 1)[:, None]).astype(np.float32)


def reverse_complement_classes(k: int) -> np.ndarray:
    """Per k-mer index (codes A=0 C=1 G=2 T=3 read as a base-4 number), the column of its class when a k-mer and
    its reverse complement count as one (a motif binds either strand): 4^k k-mers into (4^k + 4^(k/2)) / 2."""
    index = np.arange(4**k)
    digits = (index[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4
    complement = 3 - digits[:, ::-1]  # reversed, each letter complemented
    reverse = complement @ 4 ** np.arange(k - 1, -1, -1)
    return np.unique(np.minimum(index, reverse), return_inverse=True)[1]


def sequence_features(codes: np.ndarray, k: int, alphabet: str = DNA, shorter_kmers: bool = False) -> np.ndarray:
    """k-mer frequencies (for DNA each k-mer pooled with its reverse complement), beside those of every shorter
    k-mer with ``shorter_kmers``; or (k = GC_ONLY) an N x 1 column of GC fractions."""
    if k == GC_ONLY:
        return gc_content(codes)[:, None].astype(np.float32)
    if shorter_kmers and k > 1:
        shorter = [sequence_features(codes, size, alphabet) for size in range(1, k)]
        return np.hstack([*shorter, sequence_features(codes, k, alphabet)])
    frequencies = kmer_frequencies(codes, k, len(alphabet))
    if alphabet != DNA:  # one strand: nothing to pool
        return frequencies
    classes = reverse_complement_classes(k)
    pooled = np.zeros((len(frequencies), classes.max() + 1), dtype=np.float32)
    np.add.at(pooled.T, classes, frequencies.T)
    return pooled


class KmerModel(TrainedModel):
    def __init__(
        self,
        params,
        classes,
        k,
        feature_mean,
        feature_scale,
        coef,
        intercept,
        final_metrics=None,
        arch="kmer",
        alphabet=DNA,
    ):
        self.arch, self.params, self.alphabet = arch, dict(params), alphabet
        self.classes, self.k = [str(c) for c in classes], int(k)
        self.feature_mean = np.asarray(feature_mean, dtype=np.float64)
        self.feature_scale = np.asarray(feature_scale, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)  # 1 x 4^k (two classes) or classes x 4^k
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.final_metrics = dict(final_metrics or {})

    def _proba(self, codes: np.ndarray) -> np.ndarray:
        features = sequence_features(codes, self.k, self.alphabet, self.params.get("shorter_kmers", False))
        features = (features - self.feature_mean) / self.feature_scale
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
            "alphabet": self.alphabet,
            "feature_mean": torch.from_numpy(self.feature_mean),
            "feature_scale": torch.from_numpy(self.feature_scale),
            "coef": torch.from_numpy(self.coef),
            "intercept": torch.from_numpy(self.intercept),
        }


def _fit(
    codes: np.ndarray, labels: np.ndarray, classes: list[str], k: int, C: float, seed: int, alphabet=DNA, params=None
) -> KmerModel:
    params = dict(params or {})
    features = sequence_features(codes, k, alphabet, params.get("shorter_kmers", False)).astype(np.float64)
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    regression = LogisticRegression(C=C, max_iter=5000, random_state=seed)
    regression.fit((features - mean) / scale, labels)
    if list(regression.classes_) != classes:
        raise AssertionError(f"scikit-learn classes {list(regression.classes_)} differ from {classes}")
    return KmerModel(params, classes, k, mean, scale, regression.coef_, regression.intercept_, alphabet=alphabet)


def fit_kmer_model(
    codes: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    split: np.ndarray,
    params: dict,
    seed: int,
    alphabet: str = DNA,
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
            model = _fit(codes[train], labels[train], classes, k, c, seed, alphabet, params)
            scores[k, c] = classification_metrics(labels[val], model._proba(codes[val]), classes)["auroc"]
        metrics[f"val_auroc_k{k}"] = max(scores[k, c] for c in c_values)
    valid = {choice: score for choice, score in scores.items() if np.isfinite(score)}
    # ties: the shorter k, then the stronger regularisation
    best_k, best_c = max(valid, key=lambda kc: (valid[kc], -kc[0], -kc[1])) if valid else (k_values[0], c_values[0])
    model = _fit(codes, labels, classes, best_k, best_c, seed, alphabet, params)
    model.final_metrics = {**metrics, "k": float(best_k), "C": best_c, "val_auroc": scores[best_k, best_c]}
    return model


def setup(adata: ad.AnnData, params: dict, spec: DatasetSpec, seed: int, arch: str = "kmer") -> Setup:
    codes, labels, classes, split = training_rows(adata, spec, arch)
    alphabet = alphabet_of(adata)
    if arch == "gc" and alphabet != DNA:
        raise LifedlError(
            f"{spec.where}: gc reads the fraction of G and C in DNA; these are {alphabet_name(alphabet)} sequences. "
            f"Take gc out of the architectures of {spec.id} in {spec.sheet}."
        )

    def finish(result: None) -> KmerModel:
        if arch == "gc":  # nothing to choose: one feature, fitted on every non-test row
            model = _fit(codes, labels, classes, GC_ONLY, params["C"], seed, alphabet, params)
            model.arch = arch
            model.final_metrics = {"n_train": float(len(labels))}
            return model
        return fit_kmer_model(codes, labels, classes, split, params, seed, alphabet)

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
        checkpoint.get("alphabet", DNA),  # checkpoints from before peptides read DNA only
    )
