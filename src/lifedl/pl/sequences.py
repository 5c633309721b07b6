"""Figures of sequence motifs: a planted motif beside a CNN's best-matching first-layer filter, as logos.

The matching itself is ``lifedl.tl.motifs``.
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

from lifedl.tl.motifs import best_matching_filter, reverse_complement_matrix

ALPHABET = "ACGT"
LETTER_COLOURS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}


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
