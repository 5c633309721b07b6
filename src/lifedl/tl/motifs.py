"""Comparing sequence motifs: a CNN's first-layer filters against a position weight matrix.

Matrices are 4 x width with rows A, C, G, T. A filter's weights are compared to a motif's
probabilities by Pearson correlation of aligned columns (invariant to the scale of the weights and
to a constant added to a column, which a convolution cannot tell from its bias), averaged over the
aligned columns, at the best offset and on the better strand.
"""

from __future__ import annotations

import numpy as np


def reverse_complement_matrix(matrix: np.ndarray) -> np.ndarray:
    """The matrix of the other strand: positions reversed, A<->T and C<->G (rows A, C, G, T reversed)."""
    return np.asarray(matrix)[::-1, ::-1].copy()


def _column_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of ``a`` (4 x w) with every column of ``b`` (4 x m): w x m.
    A column without variance correlates 0 with everything."""

    def standardised(matrix):
        centred = np.asarray(matrix, dtype=float) - np.mean(matrix, axis=0, keepdims=True)
        norm = np.linalg.norm(centred, axis=0, keepdims=True)
        return np.divide(centred, norm, out=np.zeros_like(centred), where=norm > 1e-12)

    return standardised(a).T @ standardised(b)


def motif_similarity(filter: np.ndarray, pwm: np.ndarray, min_overlap: int | None = None) -> tuple[float, int, str]:
    """Best mean Pearson correlation of aligned columns of ``filter`` (4 x w) and ``pwm`` (4 x m).

    Alignments: every offset at which at least ``min_overlap`` columns overlap (default half the shorter
    matrix, at least 1), on both strands. Returns (score, offset, strand): filter column j lies on column
    j + offset of the PWM (strand '+') or of its reverse complement (strand '-').
    """
    filter, pwm = np.asarray(filter, dtype=float), np.asarray(pwm, dtype=float)
    if filter.ndim != 2 or pwm.ndim != 2 or filter.shape[0] != 4 or pwm.shape[0] != 4:
        raise ValueError(f"filter and pwm must be 4 x width matrices (rows A, C, G, T): {filter.shape}, {pwm.shape}")
    w, m = filter.shape[1], pwm.shape[1]
    min_overlap = max(1, min(w, m) // 2) if min_overlap is None else max(1, min(min_overlap, w, m))
    best = (-np.inf, 0, "+")
    for strand, target in (("+", pwm), ("-", reverse_complement_matrix(pwm))):
        correlations = _column_correlations(filter, target)  # [j, i]: filter column j, motif column i
        for offset in range(min_overlap - w, m - min_overlap + 1):
            score = float(np.mean(np.diagonal(correlations, offset=offset)))
            if score > best[0]:
                best = (score, offset, strand)
    return best


def best_matching_filter(
    filters: np.ndarray, pwm: np.ndarray, min_overlap: int | None = None
) -> tuple[int, float, int, str]:
    """The filter (of n x 4 x w) most similar to ``pwm``: (index, score, offset, strand)."""
    filters = np.asarray(filters)
    if filters.ndim != 3 or len(filters) == 0:
        raise ValueError(f"filters must be n x 4 x width with n >= 1, got shape {filters.shape}")
    matches = [motif_similarity(f, pwm, min_overlap) for f in filters]
    index = int(np.argmax([score for score, _, _ in matches]))
    return (index, *matches[index])


def information_content(probabilities: np.ndarray) -> np.ndarray:
    """Bits per column: log2(letters) - entropy (base 2); 2 - entropy for DNA."""
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-12, 1)
    return np.log2(p.shape[0]) + (p * np.log2(p)).sum(axis=0)


def filter_probabilities(filter: np.ndarray) -> np.ndarray:
    """A filter as letter probabilities: per column, the positive part of the column-centred weights,
    normalised to sum 1 (a column without preference becomes uniform)."""
    centred = np.asarray(filter, dtype=float) - np.mean(filter, axis=0, keepdims=True)
    positive = np.clip(centred, 0, None)
    total = positive.sum(axis=0, keepdims=True)
    return np.divide(positive, total, out=np.full_like(positive, 1 / positive.shape[0]), where=total > 1e-12)


def rank_filters(filters: np.ndarray) -> list[dict]:
    """First-layer filters where the alphabet has no motif database (peptides): each filter's consensus and the
    information of its letter preferences (bits summed over its columns), the sharpest first. One dict per
    filter, with the columns of :func:`match_filters` (the matches left empty)."""
    rows = []
    for index, weights in enumerate(np.asarray(filters, dtype=float)):
        probabilities = filter_probabilities(weights)
        rows.append(
            {
                "filter": index,
                "best_match": "",
                "best_matrix_id": "",
                "best_family": "",
                "best_score": float(information_content(probabilities).sum()),
                "second_match": "",
                "second_score": float("nan"),
            }
        )
    return sorted(rows, key=lambda row: -row["best_score"])


def _standardised_columns(matrices: np.ndarray) -> np.ndarray:
    """Columns (axis -2 holds the 4 letters) centred and scaled to unit norm; a flat column stays 0."""
    centred = matrices - matrices.mean(axis=-2, keepdims=True)
    norm = np.linalg.norm(centred, axis=-2, keepdims=True)
    return np.divide(centred, norm, out=np.zeros_like(centred), where=norm > 1e-12)


def match_filters(filters: np.ndarray, motifs) -> list[dict]:
    """Each filter's best and second-best known motif (``motifs``: objects with matrix_id, name, family, pwm).

    The score of a filter against a motif: the column correlations of the alignment, weighted by the motif's
    information content per column and divided by the motif's total, at the best offset where the shorter
    of the two lies wholly inside the longer, on the better strand. Unlike :func:`motif_similarity` (an
    unweighted mean over any half overlap, enough to find one planted motif) the weighting keeps short or
    low-information motifs, which correlate well with anything by chance, from topping a search over
    hundreds. One dict per filter, best-matching filters first.
    """
    standard = _standardised_columns(np.asarray(filters, dtype=float))  # n x 4 x w
    n, _, width = standard.shape
    scores = np.full((n, len(motifs)), -np.inf)
    for k, motif in enumerate(motifs):
        information = information_content(motif.pwm)
        for target, weight in ((motif.pwm, information), (reverse_complement_matrix(motif.pwm), information[::-1])):
            correlations = np.einsum("nci,cj->nij", standard, _standardised_columns(np.asarray(target, dtype=float)))
            length = target.shape[1]
            for offset in range(-(width - 1), length):  # filter column j on motif column j + offset
                columns = np.arange(max(0, -offset), min(width, length - offset))
                if len(columns) < min(width, length):
                    continue
                aligned = correlations[:, columns, columns + offset] * weight[columns + offset]
                scores[:, k] = np.maximum(scores[:, k], aligned.sum(axis=1) / max(weight.sum(), 1e-12))
    rows = []
    for index in range(n):
        best, second = np.argsort(-scores[index])[:2] if len(motifs) > 1 else (np.argmax(scores[index]), None)
        rows.append(
            {
                "filter": index,
                "best_match": motifs[best].name,
                "best_matrix_id": motifs[best].matrix_id,
                "best_family": motifs[best].family,
                "best_score": float(scores[index, best]),
                "second_match": motifs[second].name if second is not None else "",
                "second_score": float(scores[index, second]) if second is not None else float("nan"),
            }
        )
    return sorted(rows, key=lambda row: -row["best_score"])
