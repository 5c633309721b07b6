"""Figures of the deep generative decoder (Schuster & Krogh 2021) and of generated cells.

- ``dgd_latent_figure``: the seed's PBMC figure, the DGD latent space coloured by mixture
  component and by cell type;
- ``dgd_subcluster_figure``: the paper's "sub-clustering for marker genes": Leiden inside the
  largest component, and the top marker genes of each sub-cluster;
- ``generation_figure``: generated cells (DGD, VAE, ...) next to real cells.
"""

from __future__ import annotations

from collections.abc import Mapping

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.decomposition import PCA

from lifedl.errors import LifedlError
from lifedl.pl.figures import scatter_categories
from lifedl.pl.papers import _two_dims
from lifedl.pp.counts import counts_matrix, log_normalise

REPRESENTATION, COMPONENT = "X_dgd", "dgd_component"


def _require_dgd(adata: ad.AnnData) -> None:
    if REPRESENTATION not in adata.obsm or COMPONENT not in adata.obs:
        raise LifedlError(
            f"the DGD figures need obsm['{REPRESENTATION}'] and obs['{COMPONENT}']: store model.embed(adata) in "
            f"obsm['{REPRESENTATION}'] and call model.annotate(adata) first."
        )


def dgd_latent_figure(adata: ad.AnnData, labels_key: str, seed: int = 0) -> plt.Figure:
    """The DGD latent space (its first two principal components), by mixture component and by cell type."""
    _require_dgd(adata)
    if labels_key not in adata.obs:
        raise LifedlError(f"obs has no column '{labels_key}' to colour cells by; pass the data set's labels column.")
    coordinates = _two_dims(adata.obsm[REPRESENTATION], seed)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    n_components = adata.obs[COMPONENT].nunique()
    scatter_categories(
        axes[0], coordinates, adata.obs[COMPONENT], f"DGD latent (2 PCs): {n_components} mixture components"
    )
    scatter_categories(axes[1], coordinates, adata.obs[labels_key], f"DGD latent (2 PCs): {labels_key}")
    fig.suptitle(f"Deep generative decoder representations of {adata.n_obs} cells")
    fig.tight_layout()
    return fig


def _subclusters(cells: ad.AnnData, seed: int) -> pd.Series:
    """Leiden on the kNN graph of the DGD representations; resolution raised until it splits the cells."""
    import scanpy as sc

    # Gaussian-kernel weights: the kNN graph without the UMAP weights' numba compilation (15 s per process).
    sc.pp.neighbors(
        cells, n_neighbors=min(15, cells.n_obs - 1), use_rep=REPRESENTATION, method="gauss", random_state=seed
    )
    for resolution in (1.0, 2.0, 4.0):
        sc.tl.leiden(
            cells,
            resolution=resolution,
            flavor="igraph",
            n_iterations=2,
            directed=False,
            random_state=seed,
            key_added="subcluster",
        )
        if cells.obs["subcluster"].nunique() > 1:
            break
    return cells.obs["subcluster"]


def dgd_subcluster_figure(adata: ad.AnnData, seed: int = 0, n_markers: int = 3) -> plt.Figure:
    """Sub-clusters of the largest mixture component and their marker genes (Wilcoxon on log-normalised counts)."""
    import scanpy as sc

    _require_dgd(adata)
    component = adata.obs[COMPONENT].value_counts().index[0]
    members = (adata.obs[COMPONENT] == component).to_numpy()
    if members.sum() < 10:
        raise LifedlError(f"the largest DGD component has {members.sum()} cells, too few to sub-cluster (need 10).")
    cells = ad.AnnData(
        X=log_normalise(counts_matrix(adata[members])),
        obs=pd.DataFrame(index=adata.obs_names[members]),
        var=pd.DataFrame(index=adata.var_names),
        obsm={REPRESENTATION: np.asarray(adata.obsm[REPRESENTATION])[members]},
    )
    subclusters = _subclusters(cells, seed)
    groups = list(subclusters.cat.categories)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 1.6]})
    scatter_categories(
        axes[0],
        _two_dims(cells.obsm[REPRESENTATION], seed),
        subclusters,
        f"component {component} ({members.sum()} cells): {len(groups)} Leiden sub-clusters",
    )
    if len(groups) < 2:
        axes[1].text(0.5, 0.5, "one sub-cluster: no markers to contrast", ha="center", va="center")
        axes[1].axis("off")
        fig.tight_layout()
        return fig
    sc.tl.rank_genes_groups(cells, "subcluster", method="wilcoxon")
    names = cells.uns["rank_genes_groups"]["names"]
    markers = list(dict.fromkeys(gene for group in groups for gene in names[group][:n_markers]))
    expression = cells[:, markers].X
    expression = expression.toarray() if sp.issparse(expression) else np.asarray(expression)
    mean = pd.DataFrame(expression).groupby(subclusters.to_numpy()).mean().loc[groups].to_numpy()
    fraction = pd.DataFrame(expression > 0).groupby(subclusters.to_numpy()).mean().loc[groups].to_numpy()
    # Colour: mean expression standardised across sub-clusters per gene; size: fraction of cells expressing.
    scaled = (mean - mean.mean(0)) / np.where(mean.std(0) > 0, mean.std(0), 1)
    grid_x, grid_y = np.meshgrid(np.arange(len(markers)), np.arange(len(groups)))
    dots = axes[1].scatter(
        grid_x.ravel(),
        grid_y.ravel(),
        s=20 + 280 * fraction.ravel(),
        c=scaled.ravel(),
        cmap="Reds",
        edgecolors="grey",
        linewidths=0.3,
    )
    axes[1].set_xticks(range(len(markers)), markers, rotation=60, ha="right", fontsize=8)
    axes[1].set_yticks(range(len(groups)), [f"sub-cluster {g}" for g in groups], fontsize=8)
    axes[1].set_xlim(-0.6, len(markers) - 0.4)
    axes[1].set_ylim(len(groups) - 0.4, -0.6)
    axes[1].set_title(f"top {n_markers} markers per sub-cluster (dot size: fraction of cells expressing)", fontsize=10)
    fig.colorbar(dots, ax=axes[1], label="mean log expression (z across sub-clusters)")
    fig.tight_layout()
    return fig


def generation_figure(real: ad.AnnData, samples: Mapping[str, np.ndarray], seed: int = 0) -> plt.Figure:
    """Generated cells next to real ones. Top: each set on the real cells' first two principal components
    (log-normalised counts). Bottom: library sizes, and per model each gene's mean (log1p counts per 10k),
    real against generated."""
    counts = counts_matrix(real)
    for name, generated in samples.items():
        if np.ndim(generated) != 2 or np.shape(generated)[1] != real.n_vars:
            raise LifedlError(
                f"generated cells '{name}' have shape {np.shape(generated)}; expected (cells, "
                f"{real.n_vars}) on the real cells' genes."
            )
    sets = {"real": counts, **{name: sp.csr_matrix(np.asarray(g, dtype=np.float32)) for name, g in samples.items()}}
    expression = {name: log_normalise(matrix).toarray() for name, matrix in sets.items()}
    pca = PCA(2, random_state=seed).fit(expression["real"])
    projected = {name: pca.transform(values) for name, values in expression.items()}
    gene_means = {name: values.mean(0) for name, values in expression.items()}
    n_cols = len(sets)
    fig, axes = plt.subplots(2, n_cols, figsize=(4.2 * n_cols, 8), squeeze=False)
    for col, name in enumerate(sets):
        ax = axes[0, col]
        ax.scatter(*projected["real"].T, s=3, color="lightgrey", label="real")
        if name != "real":
            ax.scatter(*projected[name].T, s=3, color="tab:red", alpha=0.6, label="generated")
            ax.legend(fontsize=7, markerscale=3)
        ax.set(title=f"{name} ({sets[name].shape[0]} cells) on the real cells' PCA", xlabel="PC1", ylabel="PC2")
    ax = axes[1, 0]
    for name, matrix in sets.items():
        ax.hist(np.log10(np.asarray(matrix.sum(axis=1)).ravel() + 1), bins=30, histtype="step", label=name)
    ax.set(title="library sizes", xlabel="log10 total counts", ylabel="cells")
    ax.legend(fontsize=7)
    for col, name in enumerate(samples, start=1):
        ax = axes[1, col]
        ax.scatter(gene_means["real"], gene_means[name], s=4)
        limit = max(gene_means["real"].max(), gene_means[name].max())
        ax.plot([0, limit], [0, limit], color="k", lw=0.8, ls="--")
        r = np.corrcoef(gene_means["real"], gene_means[name])[0, 1]
        ax.set(title=f"{name}: per-gene mean (r = {r:.3f})", xlabel="real", ylabel="generated")
    fig.tight_layout()
    return fig
