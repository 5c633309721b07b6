"""Figures and comparisons of sequence motifs: a planted motif against a CNN's first-layer filters.

Matrices are 4 x width with rows A, C, G, T. A filter's weights are compared to a motif's
probabilities by Pearson correlation of aligned columns (invariant to the scale of the weights and
to a constant added to a column, which a convolution cannot tell from its bias), averaged over the
aligned columns, at the best offset and on the better strand.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D

ALPHABET = "ACGT"
LETTER_COLOURS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}


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


def filter_probabilities(filter: np.ndarray) -> np.ndarray:
    """A filter as letter probabilities: per column, the positive part of the column-centred weights,
    normalised to sum 1 (a column without preference becomes uniform)."""
    centred = np.asarray(filter, dtype=float) - np.mean(filter, axis=0, keepdims=True)
    positive = np.clip(centred, 0, None)
    total = positive.sum(axis=0, keepdims=True)
    return np.divide(positive, total, out=np.full_like(positive, 0.25), where=total > 1e-12)


def information_content(probabilities: np.ndarray) -> np.ndarray:
    """Bits per column: 2 - entropy (base 2)."""
    p = np.clip(np.asarray(probabilities, dtype=float), 1e-12, 1)
    return 2 + (p * np.log2(p)).sum(axis=0)


def _draw_letter(ax, letter: str, x: float, y: float, height: float) -> None:
    path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    extents = path.get_extents()
    transform = (
        Affine2D()
        .translate(-extents.x0, -extents.y0)
        .scale(0.9 / extents.width, height / extents.height)
        .translate(x - 0.45, y)
    )
    ax.add_patch(PathPatch(transform.transform_path(path), facecolor=LETTER_COLOURS[letter], edgecolor="none"))


def draw_logo(ax, probabilities: np.ndarray, start: int = 0) -> None:
    """A letter logo: at each position the letters stacked, heights = probability x information content."""
    probabilities = np.asarray(probabilities, dtype=float)
    for column, (p, bits) in enumerate(zip(probabilities.T, information_content(probabilities))):
        y = 0.0
        for row in np.argsort(p):  # the most probable letter on top
            height = p[row] * bits
            if height > 1e-3:
                _draw_letter(ax, ALPHABET[row], start + column, y, height)
                y += height
    ax.set_ylim(0, 2)
    ax.set_ylabel("bits")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def motif_filter_figure(filters: np.ndarray, pwm: np.ndarray, motif_name: str) -> plt.Figure:
    """Left: the planted motif as a letter logo. Right: the best-matching first-layer filter, oriented
    and placed as it aligns with the motif, as a logo of its letter preferences."""
    pwm = np.asarray(pwm, dtype=float)
    index, score, offset, strand = best_matching_filter(filters, pwm)
    shown = np.asarray(filters[index], dtype=float)
    w, m = shown.shape[1], pwm.shape[1]
    if strand == "-":  # show the filter on the motif's strand: its reverse complement lies at m - w - offset
        shown, offset = reverse_complement_matrix(shown), m - w - offset
    left, right = min(0, offset) - 0.5, max(m, offset + w) - 0.5

    fig, axes = plt.subplots(1, 2, figsize=(12, 3), sharey=True)
    draw_logo(axes[0], pwm)
    axes[0].set_title(f"planted motif {motif_name}")
    draw_logo(axes[1], filter_probabilities(shown), start=offset)
    orientation = "reverse complement, " if strand == "-" else ""
    axes[1].set_title(f"best-matching first-layer filter {index} ({orientation}r = {score:.2f})")
    for ax in axes:
        ax.set_xlim(left, right)
        ax.set_xlabel("position in the motif")
        ax.set_xticks(range(int(np.ceil(left)), int(right) + 1, max(1, int(right - left) // 10)))
    fig.suptitle(f"{motif_name}: the planted motif and the CNN's best-matching filter (mean column correlation)")
    fig.tight_layout()
    return fig
