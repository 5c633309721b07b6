"""scGAN's figures: real and generated cells in one UMAP, and their per-gene statistics side by side.

Both take real and generated cells on the same scale (``ScGANModel.prepare(real)``,
``ScGANModel.generate(...)``) and look at log1p expression, as ``lifedl.tl.realism`` does.
"""

from __future__ import annotations

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lifedl.errors import LifedlError
from lifedl.pl.figures import scatter_categories
from lifedl.tl.realism import log_expression_pair, pearson, principal_components

UMAP_MAX_CELLS = 5000  # per side: a UMAP of more cells takes minutes and shows no more
UNLABELLED = "generated (no type)"
UNLABELLED_REAL = "real (no type)"


def _sample(n_cells: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n_cells) if n_cells <= limit else np.sort(rng.choice(n_cells, limit, replace=False))


def realism_umap_figure(real: ad.AnnData, generated: ad.AnnData, seed: int = 0, n_neighbors: int = 15) -> plt.Figure:
    """One UMAP of real and generated cells together (on the PCs of the real cells), coloured by origin, and by
    obs['cell_type'] where the cells carry one. Well-generated cells mix with the real ones."""
    from lifedl.tl.cluster import neighbors_and_umap  # scanpy/umap only where the figure is drawn

    for name, data in (("real", real), ("generated", generated)):
        if not isinstance(data, ad.AnnData):
            raise LifedlError(f"realism_umap_figure: the {name} cells must be an AnnData (with obs), got {type(data)}.")
    rng = np.random.default_rng(seed)
    real = real[_sample(real.n_obs, UMAP_MAX_CELLS, rng)]
    generated = generated[_sample(generated.n_obs, UMAP_MAX_CELLS, rng)]
    real_log, generated_log = log_expression_pair(real, generated)
    coordinates = np.vstack(principal_components(real_log, [real_log, generated_log], seed))
    origin = np.r_[np.full(real.n_obs, "real"), np.full(generated.n_obs, "generated")]
    cells = ad.AnnData(obs=pd.DataFrame(index=[f"cell_{i}" for i in range(len(origin))]))
    cells.obsm["X_realism"] = coordinates.astype(np.float32)
    neighbors_and_umap(cells, "realism", n_neighbors, seed)
    umap = cells.obsm["X_umap_realism"]

    has_types = "cell_type" in real.obs or "cell_type" in generated.obs
    fig, axes = plt.subplots(1, 1 + has_types, figsize=(6.2 * (1 + has_types), 4.6), squeeze=False)
    # Origin in two contrasting colours, generated cells drawn over the real ones.
    ax = axes[0, 0]
    for name, colour in (("real", "lightgrey"), ("generated", "tab:red")):
        mask = origin == name
        ax.scatter(umap[mask, 0], umap[mask, 1], s=3, color=colour, label=f"{name} ({mask.sum()})")
    ax.set(title="UMAP of real and generated cells: origin", xticks=[], yticks=[])
    ax.legend(fontsize=7, markerscale=3, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False)
    if has_types:

        def types(data: ad.AnnData, fallback: str) -> np.ndarray:
            if "cell_type" not in data.obs:
                return np.full(data.n_obs, fallback)
            return data.obs["cell_type"].astype(str).to_numpy()

        cell_type = np.r_[types(real, UNLABELLED_REAL), types(generated, UNLABELLED)]
        # Cells without a type in light grey underneath, so that they hide none of the typed ones.
        ax = axes[0, 1]
        untyped = np.isin(cell_type, [UNLABELLED, UNLABELLED_REAL])
        for name in (UNLABELLED_REAL, UNLABELLED):
            mask = cell_type == name
            if mask.any():
                ax.scatter(umap[mask, 0], umap[mask, 1], s=3, color="#dddddd", label=f"{name} ({mask.sum()})")
        scatter_categories(
            ax, umap[~untyped], pd.Series(cell_type[~untyped]), "UMAP of real and generated cells: cell type"
        )
    fig.suptitle(f"{real.n_obs} real and {generated.n_obs} generated cells (PCA of the real cells, log1p expression)")
    fig.tight_layout()
    return fig


def gene_means_figure(real, generated) -> plt.Figure:
    """Per gene, real against generated: mean and variance of log1p expression, with Pearson r in the titles."""
    real_log, generated_log = log_expression_pair(real, generated)
    statistics = [
        ("mean", real_log.mean(axis=0), generated_log.mean(axis=0)),
        ("variance", real_log.var(axis=0, ddof=1), generated_log.var(axis=0, ddof=1)),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, (name, real_values, generated_values) in zip(axes, statistics):
        ax.scatter(real_values, generated_values, s=4, alpha=0.6, color="tab:blue")
        limit = float(max(real_values.max(), generated_values.max())) * 1.05 or 1.0
        ax.plot([0, limit], [0, limit], color="grey", lw=1, ls="--", label="y = x")
        ax.set(
            xlim=(0, limit),
            ylim=(0, limit),
            aspect="equal",
            xlabel=f"real cells: per-gene {name}",
            ylabel=f"generated cells: per-gene {name}",
            title=f"{name} of log1p expression (r = {pearson(real_values, generated_values):.3f})",
        )
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{real_log.shape[1]} genes: {real_log.shape[0]} real vs {generated_log.shape[0]} generated cells")
    fig.tight_layout()
    return fig


PAPER_AUROC = 0.65  # Marouf et al. 2020: the random forest's AUROC on scGAN's PBMC cells after a million steps


def realism_curve_figure(history: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """scGAN's realism against its training budget: the random forest's AUROC (generated vs training cells)
    every ``realism_every`` epochs (``history``'s column ``realism/auroc``), beside the two halves of the real
    cells (``table``'s ``real_vs_real`` row, the floor) and the paper's level."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    scored = history.dropna(subset=["realism/auroc"]) if "realism/auroc" in history else history.iloc[:0]
    if scored.empty:
        ax.text(0.5, 0.5, "no realism measured during training:\nset params.scgan.realism_every > 0", ha="center")
        ax.axis("off")
        return fig
    ax.plot(scored["epoch"] + 1, scored["realism/auroc"], "o-", label="scGAN's cells vs training cells")
    floor = table.set_index("comparison").loc["real_vs_real", "auroc"]
    ax.axhline(floor, ls="--", c="grey", label=f"two halves of the real cells ({floor:.2f})")
    ax.axhline(PAPER_AUROC, ls=":", c="k", label=f"the paper after 10^6 steps ({PAPER_AUROC})")
    ax.set(xlabel="epoch", ylabel="RF AUROC (0.5: indistinguishable)", ylim=(0.4, 1.02))
    ax.set_title("scGAN realism against its training budget")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig
