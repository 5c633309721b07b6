"""Figures of what sequence models learned: a planted motif beside a CNN's best-matching first-layer filter (logos),
learned k-mer embeddings, gradient norms per epoch and transformer attention maps.

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

from lifedl.data.sequences import DNA
from lifedl.tl.motifs import best_matching_filter, filter_probabilities, information_content, reverse_complement_matrix

ALPHABET = DNA  # the letter order of DNA codes and of JASPAR matrices
LETTER_COLOURS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}
# amino acids by chemistry, as WebLogo colours them: hydrophobic, polar, basic, acidic
AMINO_ACID_COLOURS = {
    **dict.fromkeys("AVLIPWFM", "#222222"),
    **dict.fromkeys("GSTYCNQ", "#109648"),
    **dict.fromkeys("KRH", "#255C99"),
    **dict.fromkeys("DE", "#D62839"),
}


def _draw_letter(ax, letter: str, x: float, y: float, height: float, colours: dict) -> None:
    path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    extents = path.get_extents()
    transform = (
        Affine2D()
        .translate(-extents.x0, -extents.y0)
        .scale(0.9 / extents.width, height / extents.height)
        .translate(x - 0.45, y)
    )
    ax.add_patch(PathPatch(transform.transform_path(path), facecolor=colours[letter], edgecolor="none"))


def draw_logo(ax, probabilities: np.ndarray, start: int = 0, alphabet: str = ALPHABET) -> None:
    """A letter logo: at each position the letters stacked, heights = probability x information content."""
    probabilities = np.asarray(probabilities, dtype=float)
    colours = LETTER_COLOURS if alphabet == ALPHABET else AMINO_ACID_COLOURS
    for column, (p, bits) in enumerate(zip(probabilities.T, information_content(probabilities))):
        y = 0.0
        for row in np.argsort(p):  # the most probable letter on top
            height = p[row] * bits
            if height > 1e-3:
                _draw_letter(ax, alphabet[row], start + column, y, height, colours)
                y += height
    ax.set_ylim(0, np.log2(len(alphabet)))
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


def kmer_names(k: int, alphabet: str = ALPHABET) -> list[str]:
    """All letters^k k-mers in base-letters order (the row order of a k-mer embedding)."""
    names = [""]
    for _ in range(k):
        names = [name + letter for name in names for letter in alphabet]
    return names


def _cosine(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
    return unit @ unit.T


def kmer_embedding_figure(embedding: np.ndarray, k: int, alphabet: str = ALPHABET) -> plt.Figure:
    """Left: cosine similarity of every pair of learned k-mer vectors. Right, for DNA: the similarity of each
    k-mer to its reverse complement beside all other pairs (a strand-aware model would put them close); for
    amino acids (k = 1): pairs of one chemistry (hydrophobic, polar, basic, acidic) beside the other pairs."""
    names = kmer_names(k, alphabet)
    similarity = _cosine(np.asarray(embedding, dtype=float))
    pairs = np.triu_indices(len(names), 1)
    if alphabet == ALPHABET:
        complement = {a: b for a, b in zip(ALPHABET, ALPHABET[::-1])}
        index = {name: i for i, name in enumerate(names)}
        reverse = np.array([index["".join(complement[c] for c in reversed(name))] for name in names])
        own = np.arange(len(names)) != reverse
        special, label = similarity[np.arange(len(names)), reverse][own], "k-mer and its reverse complement"
    else:
        group = np.array([AMINO_ACID_COLOURS.get(name[0], "") + AMINO_ACID_COLOURS.get(name[-1], "") for name in names])
        same = (group[:, None] == group[None, :])[pairs]
        special, label = similarity[pairs][same], "pairs of one chemistry (first and last letter)"

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1.3, 1]})
    image = axes[0].imshow(similarity, cmap="RdBu_r", vmin=-1, vmax=1)
    if len(names) <= 64:
        axes[0].set_xticks(range(len(names)), names, rotation=90, fontsize=5)
        axes[0].set_yticks(range(len(names)), names, fontsize=5)
    axes[0].set_title(f"cosine similarity of the learned {k}-mer embeddings")
    fig.colorbar(image, ax=axes[0], shrink=0.8)
    bins = np.linspace(-1, 1, 31)
    axes[1].hist(similarity[pairs], bins=bins, density=True, alpha=0.6, label="all pairs")
    axes[1].hist(special, bins=bins, density=True, alpha=0.6, label=label)
    axes[1].set_xlabel("cosine similarity")
    axes[1].set_ylabel("density")
    axes[1].legend(frameon=False)
    fig.tight_layout()
    return fig


def gradient_norm_figure(histories: dict, clips: dict[str, float]) -> plt.Figure:
    """Per architecture, the gradient norm per epoch before clipping (mean and max over steps) and the largest
    norm a step applied after clipping, with the clipping threshold."""
    fig, axes = plt.subplots(1, len(histories), figsize=(5.5 * len(histories), 3.8), squeeze=False)
    for ax, (arch, history) in zip(axes[0], histories.items()):
        epochs = history["epoch"] + 1
        ax.plot(epochs, history["train/grad_norm"], label="mean norm before clipping")
        ax.plot(epochs, history["train/grad_norm_max"], label="max norm before clipping")
        ax.plot(epochs, history["train/grad_norm_clipped_max"], "--", label="max norm applied")
        if clips.get(arch, 0) > 0:
            ax.axhline(clips[arch], color="grey", lw=0.8, ls=":", label=f"gradient_clip {clips[arch]:g}")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("gradient norm")
        ax.set_title(arch)
        ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def attention_figure(
    maps: np.ndarray,
    motif_spans: list[tuple[int, int] | None],
    titles: list[str],
    letters: list[str] | None = None,
) -> plt.Figure:
    """Top: each example's last-layer attention (mean over heads), query position by key position. Bottom: the
    attention each position receives (column mean), with the planted motif's span shaded where known.

    ``maps``: n_layers x n_examples x heads x L' x L'; ``motif_spans``: per example (first, last) token;
    ``letters``: per example its sequence where each token is one letter (the maps are then cut to its length,
    leaving out the padding, and a short sequence's letters label the positions)."""
    last = np.asarray(maps)[-1].mean(axis=1)  # n_examples x L' x L'
    n = len(last)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 7.5), squeeze=False, gridspec_kw={"height_ratios": [3, 1]})
    for column in range(n):
        top, bottom = axes[0, column], axes[1, column]
        tokens = len(letters[column]) if letters else last.shape[-1]
        shown = last[column][:tokens, :tokens]
        top.imshow(shown, cmap="viridis", aspect="auto")
        top.set_title(titles[column], fontsize=9)
        top.set_xlabel("key position")
        top.set_ylabel("query position")
        received = shown.mean(axis=0)
        bottom.plot(received, color="black", lw=0.8)
        bottom.set_xlim(0, len(received) - 1)
        bottom.set_xlabel("position (token)")
        if letters and tokens <= 60:
            bottom.set_xticks(range(tokens), list(letters[column]), fontsize=6, family="monospace")
            bottom.set_xlabel("letter")
        bottom.set_ylabel("attention received")
        span = motif_spans[column]
        if span is not None:
            for ax in (top, bottom):
                ax.axvspan(span[0] - 0.5, span[1] + 0.5, color="red", alpha=0.2, lw=0)
    shaded = "; planted motif shaded" if any(span is not None for span in motif_spans) else ""
    fig.suptitle(f"transformer: last layer's self-attention (mean over heads){shaded}")
    fig.tight_layout()
    return fig


def filter_match_figure(
    filters: np.ndarray, matches, motifs: dict, n_shown: int = 6, alphabet: str = ALPHABET
) -> plt.Figure:
    """The best-matching first-layer filters (rows of ``matches``, a table from ``lifedl.tl.motifs.match_filters``)
    as logos, each beside the known motif it matches best (``motifs``: matrix id -> motif), aligned. Where the
    alphabet has no motif database (peptides; ``lifedl.tl.motifs.rank_filters``), the sharpest filters alone."""
    from lifedl.tl.motifs import motif_similarity

    if alphabet != ALPHABET:
        return _filter_logos_alone(filters, matches.head(2 * n_shown), alphabet)
    shown = matches.head(n_shown)
    fig, axes = plt.subplots(len(shown), 2, figsize=(12, 1.9 * len(shown)), squeeze=False)
    for (left, right), row in zip(axes, shown.itertuples()):
        motif = motifs[row.best_matrix_id]
        weights = np.asarray(filters[row.filter], dtype=float)
        w, m = weights.shape[1], motif.pwm.shape[1]
        _, offset, strand = motif_similarity(weights, motif.pwm, min_overlap=min(w, m))
        if strand == "-":  # show the filter on the motif's strand
            weights, offset = reverse_complement_matrix(weights), m - w - offset
        span = (min(0, offset) - 0.5, max(m, offset + w) - 0.5)
        draw_logo(left, filter_probabilities(weights), start=offset)
        left.set_title(f"filter {row.filter}" + (" (reverse complement)" if strand == "-" else ""), fontsize=9)
        draw_logo(right, motif.pwm)
        right.set_title(f"{row.best_match} ({row.best_matrix_id}, {motif.family}): score {row.best_score:.2f}; "
                        f"next {row.second_match} {row.second_score:.2f}", fontsize=9)  # fmt: skip
        for ax in (left, right):
            ax.set_xlim(*span)
    fig.suptitle("first-layer filters and their best-matching known motifs (information-weighted column correlation)")
    fig.tight_layout()
    return fig


def _filter_logos_alone(filters: np.ndarray, ranked, alphabet: str) -> plt.Figure:
    """The filters of ``ranked`` (sharpest first) as letter logos in two columns."""
    rows = (len(ranked) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(12, 1.9 * rows), squeeze=False)
    for ax, row in zip(axes.ravel(), ranked.itertuples()):
        draw_logo(ax, filter_probabilities(filters[row.filter]), alphabet=alphabet)
        ax.set_xlim(-0.5, filters.shape[-1] - 0.5)
        ax.set_xlabel("position in the filter")
        ax.set_title(f"filter {row.filter}: {row.best_score:.1f} bits", fontsize=9)
    for ax in axes.ravel()[len(ranked) :]:
        ax.set_visible(False)
    fig.suptitle("the sharpest first-layer filters as letter logos (no motif database for this alphabet)")
    fig.tight_layout()
    return fig


def design_figure(
    history, curves, designed: np.ndarray, pwm: np.ndarray, motif_name: str, oracle: str = ""
) -> plt.Figure:
    """The sequence-design agent: return and start-state Q-value per episode (``history``: train/return,
    train/q_start by epoch); best score so far per evaluation, as a fraction of the optimum (or, rewarded by an
    ``oracle``, its probability), for the agent and the baselines (``curves``: method, seed, evaluation,
    best_fraction; the baselines' seeds as a band); the designs' letters in their best window under the motif
    (``designed``, 4 x width frequencies) beside the target motif."""
    score = f"{oracle} probability" if oracle else "fraction of the optimum"
    figure = plt.figure(figsize=(13, 6.5))
    grid = figure.add_gridspec(2, 3)
    episodes = figure.add_subplot(grid[0, 0])
    episodes.plot(history["epoch"] + 1, history["train/return"], lw=0.8, label="return (score gained)")
    episodes.plot(history["epoch"] + 1, history["train/q_start"], lw=0.8, label="max Q of the start state")
    episodes.set(xlabel="episode", ylabel=f"{oracle} log-odds" if oracle else "log-odds")
    episodes.set_title("Return per episode", fontsize=9)
    episodes.legend(fontsize=7)
    progress = figure.add_subplot(grid[0, 1:])
    for method, rows in curves.groupby("method", sort=False):
        band = rows.groupby("evaluation")["best_fraction"].agg(["mean", "min", "max"])
        seeds = rows["seed"].nunique()
        line = progress.plot(band.index, band["mean"], label=f"{method} ({seeds} seed{'s' * (seeds > 1)})")[0]
        if seeds > 1:
            progress.fill_between(band.index, band["min"], band["max"], color=line.get_color(), alpha=0.2)
    progress.axhline(0.95, color="grey", lw=0.8, ls="--")
    progress.set(xscale="log", xlabel="score evaluations", ylabel=f"best so far ({score})")
    progress.set_title("Best score per number of evaluations", fontsize=9)
    progress.legend(fontsize=7)
    logos = [(grid[1, 0], designed, "designed sequences (best window)"), (grid[1, 1:], pwm, f"target: {motif_name}")]
    for slot, probabilities, title in logos:
        ax = figure.add_subplot(slot)
        draw_logo(ax, probabilities)
        ax.set_xlim(-0.5, probabilities.shape[1] - 0.5)
        ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def learning_curve_figure(summary, runs, measure: str = "auroc") -> plt.Figure:
    """Left: the test ``measure`` against the share of training labels (log scale), each seed's point and the mean
    of each arm (pre-trained encoder, random weights). Right: pre-trained minus scratch, paired by seed, with its
    bootstrap 95 % interval; above 0 where pre-training helps."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for arm, colour, label in (("scratch", "tab:grey", "from scratch"), ("pretrained", "tab:blue", "pre-trained")):
        own = runs[runs["arm"] == arm]
        left.scatter(own["fraction"], own[measure], s=10, color=colour, alpha=0.5)
        left.plot(summary["fraction"], summary[f"{arm}_{measure}_mean"], "-o", color=colour, label=label)
    right.axhline(0, color="grey", lw=0.8)
    middle = summary[f"{measure}_difference"]
    errors = [middle - summary[f"{measure}_ci_low"], summary[f"{measure}_ci_high"] - middle]
    right.errorbar(summary["fraction"], middle, yerr=errors, fmt="o", capsize=4, color="tab:blue")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xticks(summary["fraction"], [f"{value:.0%}" for value in summary["fraction"]])
        ax.set_xlabel("share of the training labels")
    left.set_ylabel(f"test {measure}")
    left.legend(frameon=False)
    right.set_ylabel(f"{measure}: pre-trained - scratch (95 % CI)")
    fig.tight_layout()
    return fig
