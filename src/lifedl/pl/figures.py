"""Figures written by the qc and figures rules (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def qc_metrics_figure(adata: ad.AnnData, thresholds: Mapping[str, float]) -> plt.Figure:
    """Distributions of genes per cell, counts per cell and mito %, with the QC thresholds."""
    panels = [
        ("n_genes_by_counts", "genes per cell", thresholds.get("min_genes")),
        ("total_counts", "UMIs per cell", thresholds.get("min_counts")),
        ("pct_counts_mt", "% mitochondrial UMIs", thresholds.get("max_pct_mito")),
    ]
    if "doublet_score" in adata.obs:  # qc.remove_doublets: scrublet's scores of the cells the filters kept
        panels.append(("doublet_score", "scrublet doublet score", adata.uns.get("scrublet_threshold")))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4))
    for ax, (column, title, threshold) in zip(axes, panels):
        values = adata.obs[column].to_numpy()
        values = values[np.isfinite(values)]
        ax.violinplot(values, showmedians=True)
        ax.scatter(np.random.default_rng(0).normal(1, 0.04, len(values)), values, s=2, alpha=0.3, color="k")
        if threshold:
            ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:g}")
            ax.legend(loc="upper right", fontsize=8)
        ax.set_title(title)
        ax.set_xticks([])
    fig.suptitle(f"QC before filtering ({adata.n_obs} cells)")
    fig.tight_layout()
    return fig


def hvg_figure(adata: ad.AnnData) -> plt.Figure:
    """Mean vs variance of counts per gene, highly variable genes highlighted (seurat_v3 selection)."""
    var = adata.var
    fig, ax = plt.subplots(figsize=(5, 4))
    hvg = var["highly_variable"].to_numpy()
    ax.scatter(var["means"][~hvg], var["variances"][~hvg], s=3, c="lightgrey", label="other")
    ax.scatter(var["means"][hvg], var["variances"][hvg], s=3, c="tab:blue", label=f"highly variable ({hvg.sum()})")
    title = "Highly variable genes" if not hvg.all() else f"Every gene kept ({hvg.sum()}: n_top_genes >= genes)"
    ax.set(xscale="log", yscale="log", xlabel="mean count", ylabel="variance", title=title)
    ax.legend(fontsize=8, markerscale=3)
    fig.tight_layout()
    return fig


# 60 distinct colours (tab20, tab20b, tab20c): Leiden on shallow data can give dozens of clusters
PALETTE = [plt.get_cmap(name)(i) for name in ("tab20", "tab20b", "tab20c") for i in range(20)]
LEGEND_ROWS = 20


def scatter_categories(ax, coordinates: np.ndarray, categories: pd.Series, title: str, legend: bool = True) -> None:
    """Points coloured by category: a legend (in columns of 20) up to 60 categories, beyond that each category's
    name at its centre, so no colour stands for two categories without a word."""
    categories = categories.astype("category")
    names = list(categories.cat.categories)
    for i, name in enumerate(names):
        mask = (categories == name).to_numpy()
        ax.scatter(coordinates[mask, 0], coordinates[mask, 1], s=3, color=PALETTE[i % len(PALETTE)], label=str(name))
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    if legend and len(names) <= len(PALETTE):
        ax.legend(
            fontsize=6,
            markerscale=2,
            loc="center left",
            bbox_to_anchor=(1, 0.5),
            frameon=False,
            ncol=int(np.ceil(len(names) / LEGEND_ROWS)),
        )
    elif legend:
        for name in names:
            centre = np.median(coordinates[(categories == name).to_numpy()], axis=0)
            ax.annotate(str(name), centre, fontsize=6, ha="center", va="center")


def scatter_values(ax, coordinates: np.ndarray, values, title: str, label: str) -> None:
    """Points coloured by a number (e.g. sequencing depth), with a colour bar."""
    points = ax.scatter(coordinates[:, 0], coordinates[:, 1], s=3, c=np.asarray(values, dtype=float), cmap="viridis")
    ax.figure.colorbar(points, ax=ax, label=label, shrink=0.8)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def umap_grid(panels: Mapping[str, ad.AnnData], colour_keys: Mapping[str, list[tuple[str, str]]]) -> plt.Figure:
    """One row per architecture: its UMAP coloured by each (obs column, title) in ``colour_keys[arch]``; a
    numeric column (e.g. log depth) gets a colour scale, a categorical one a legend."""
    n_cols = max(len(keys) for keys in colour_keys.values())
    fig, axes = plt.subplots(len(panels), n_cols, figsize=(5.2 * n_cols, 4 * len(panels)), squeeze=False)
    for row, (arch, adata) in enumerate(panels.items()):
        for col in range(n_cols):
            ax = axes[row, col]
            if col >= len(colour_keys[arch]):
                ax.axis("off")
                continue
            column, title = colour_keys[arch][col]
            coordinates, values = adata.obsm[f"X_umap_{arch}"], adata.obs[column]
            if pd.api.types.is_numeric_dtype(values) and not isinstance(values.dtype, pd.CategoricalDtype):
                scatter_values(ax, coordinates, values, f"{arch.upper()}: {title}", title)
            else:
                scatter_categories(ax, coordinates, values, f"{arch.upper()}: {title}")
    fig.tight_layout()
    return fig


def training_curves(histories: Mapping[str, pd.DataFrame]) -> plt.Figure:
    """One row per architecture, one panel per named loss part (train solid, validation dashed).

    ``histories[arch]`` has a column ``epoch`` (from 0) and one per metric ("train/kl", "val/loss", ...).
    """
    if not histories:
        fig, ax = plt.subplots(figsize=(5, 1.5))
        ax.text(0.5, 0.5, "no architecture with per-epoch training", ha="center", va="center")
        ax.axis("off")
        return fig
    parts = {
        arch: sorted({key.split("/", 1)[1] for key in h.columns if "/" in key}, key=lambda p: (p != "loss", p))
        for arch, h in histories.items()
    }
    n_cols = max(len(p) for p in parts.values())
    fig, axes = plt.subplots(len(histories), n_cols, figsize=(4.2 * n_cols, 3.2 * len(histories)), squeeze=False)
    for row, (arch, history) in enumerate(histories.items()):
        for col in range(n_cols):
            ax = axes[row, col]
            if col >= len(parts[arch]):
                ax.axis("off")
                continue
            part = parts[arch][col]
            for split, style in (("train", "-"), ("val", "--")):
                if f"{split}/{part}" in history:
                    ax.plot(history["epoch"] + 1, history[f"{split}/{part}"], style, label=split)
            ax.set(title=f"{arch}: {part}", xlabel="epoch", ylabel="per cell")
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def sequence_composition_figures(adata: ad.AnnData, labels: str) -> tuple[plt.Figure, plt.Figure]:
    """Sequences' QC: the confound per class (DNA: GC content; peptides: length), a difference a model could use
    instead of motifs; and the letters per class (DNA: nucleotide frequency at each position; other alphabets,
    whose sequences differ in length: each letter's share of all letters)."""
    from lifedl.data.sequences import DNA, alphabet_of, confound

    alphabet, codes = alphabet_of(adata), np.asarray(adata.X).astype(np.int64)
    classes = adata.obs[labels].astype(str).to_numpy() if labels else np.full(adata.n_obs, "all")
    names = sorted(set(classes))
    name, values, _ = confound(codes, alphabet)
    shown = "GC content" if alphabet == DNA else f"{name} (letters)"
    composition, ax = plt.subplots(figsize=(5, 3.4))
    for label in names:
        members = values[classes == label]
        ax.hist(members, bins=30, alpha=0.5, label=f"{label} (mean {members.mean():.3f})")
    ax.set(xlabel=shown, ylabel="sequences", title=f"{shown} per class")
    ax.legend(fontsize=8)
    composition.tight_layout()
    if alphabet != DNA:
        letters, ax = plt.subplots(figsize=(8, 3.4))
        width = 0.8 / len(names)
        for index, label in enumerate(names):
            members = codes[classes == label]
            shares = np.bincount(members.ravel(), minlength=len(alphabet) + 1)[: len(alphabet)]
            ax.bar(np.arange(len(alphabet)) + index * width, shares / shares.sum(), width, label=label)
        ax.set_xticks(np.arange(len(alphabet)) + 0.4 - width / 2, list(alphabet))
        ax.set(xlabel="letter", ylabel="share of all letters", title="composition per class")
        ax.legend(fontsize=8)
        letters.tight_layout()
        return composition, letters
    positions, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.2), squeeze=False)
    for ax, label in zip(axes[0], names):
        members = codes[classes == label]
        for code, letter in enumerate(alphabet):
            ax.plot(np.arange(1, codes.shape[1] + 1), (members == code).mean(axis=0), label=letter, lw=1)
        ax.set(xlabel="position", ylabel="frequency", title=f"{label}: nucleotide frequency per position")
        ax.legend(fontsize=7, ncol=4)
    positions.tight_layout()
    return composition, positions


def molecule_qc_figures(adata: ad.AnnData, labels: str, split: str) -> tuple[plt.Figure, plt.Figure]:
    """Molecules' QC: the property to predict per split (a test set far from training shows here), and the
    number of heavy atoms per molecule per split."""
    from lifedl.data.graphs import SMILES, parse_smiles

    sides = adata.obs[split].astype(str).to_numpy() if split else np.full(adata.n_obs, "all")
    atoms = np.array([molecule.GetNumAtoms() for molecule in parse_smiles(adata.obs[SMILES], "QC")])
    figures = []
    for values, what in ((adata.obs[labels].to_numpy(dtype=float) if labels else None, labels), (atoms, "heavy atoms")):
        figure, ax = plt.subplots(figsize=(5, 3.4))
        if values is not None:
            for side in sorted(set(sides)):
                ax.hist(values[sides == side], bins=30, alpha=0.5, label=f"{side} ({(sides == side).sum()})")
            ax.legend(fontsize=8)
        ax.set(xlabel=what or "no property named", ylabel="molecules", title=f"{what or 'property'} per split")
        figure.tight_layout()
        figures.append(figure)
    return figures[0], figures[1]


def parity_figure(predictions: dict, target: str) -> plt.Figure:
    """Predicted against measured on the test rows, one panel per regressor (tables with observed, predicted),
    the diagonal drawn, RMSE and Pearson r in each title."""
    from lifedl.tl.regression import regression_metrics

    figure, axes = plt.subplots(1, len(predictions), figsize=(3.6 * len(predictions), 3.6), squeeze=False)
    values = np.concatenate([np.r_[t["observed"], t["predicted"]] for t in predictions.values()])
    limits = (values.min() - 0.5, values.max() + 0.5)
    for ax, (arch, table) in zip(axes[0], predictions.items()):
        scores = regression_metrics(table["observed"], table["predicted"])
        ax.scatter(table["observed"], table["predicted"], s=8, alpha=0.6)
        ax.plot(limits, limits, color="grey", lw=0.8)
        ax.set(xlim=limits, ylim=limits, xlabel=f"measured {target}", ylabel="predicted")
        ax.set_title(f"{arch}: RMSE {scores['rmse']:.2f}, r {scores['pearson_r']:.2f}", fontsize=9)
        ax.set_aspect("equal")
    figure.tight_layout()
    return figure


def peak_qc_figures(adata: ad.AnnData) -> tuple[plt.Figure, plt.Figure]:
    """Chromatin QC: fragments and accessible regions per cell; the share of cells in which each kept region is
    open."""
    per_cell, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.hist(np.log10(adata.obs["n_fragments"].clip(lower=1)), bins=40)
    left.set(xlabel="log10 fragments in the kept regions", ylabel="cells", title="depth per cell")
    right.hist(adata.obs["n_regions"], bins=40)
    right.set(xlabel="accessible regions", title="regions per cell")
    per_cell.tight_layout()
    per_region, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(adata.var["n_cells"] / adata.n_obs, bins=40)
    ax.set(xlabel="share of cells with the region open", ylabel="regions", title="kept regions")
    per_region.tight_layout()
    return per_cell, per_region
