"""Figures from the seeds and the models' papers."""

from __future__ import annotations

from collections.abc import Mapping

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from lifedl.errors import LifedlError
from lifedl.pl.figures import scatter_categories
from lifedl.tl.enrichment import program_activity, standardised_activity


def _two_dims(embedding: np.ndarray, seed: int) -> np.ndarray:
    """A latent space shown in 2-D: itself if 2-D, else its first two principal components."""
    return embedding if embedding.shape[1] == 2 else PCA(2, random_state=seed).fit_transform(embedding)


SEED004_PERPLEXITY = (350, 1_308_421)  # the seed's tSNE perplexity for 10x's 1.3M mouse brain cells


def tsne_perplexity(n_cells: int) -> float:
    """tSNE perplexity scaled to the data set as the seed scales it (350 for 1.3M cells), at least scikit-learn's
    30 and below the number of cells."""
    scaled = n_cells * SEED004_PERPLEXITY[0] / SEED004_PERPLEXITY[1]
    return float(min(max(30.0, scaled), max(1.0, (n_cells - 1) / 3)))


def embedding_panel(panels: Mapping[str, ad.AnnData], labels: str, seed: int) -> plt.Figure:
    """Seed 004's comparison on the same cells: ``panels`` holds a linear embedding (PCA), an autoencoder's and a
    VAE's, by architecture in that order; tSNE on the first two, UMAP on the first (for two modalities: the joint
    PCA, the integration AE, the joint VAE)."""
    archs = list(panels)
    if len(archs) != 3:
        raise LifedlError(f"the embedding panel shows three embeddings (linear, autoencoder, VAE), got {archs}.")
    linear, autoencoder, variational = (panels[arch].obsm[f"X_{arch}"] for arch in archs)
    first = panels[archs[0]]
    perplexity = tsne_perplexity(first.n_obs)
    tsne = [
        TSNE(2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(latent)
        for latent in (linear, autoencoder)
    ]
    names = [arch.upper() for arch in archs]
    views = [
        (f"{names[0]} (PC1, PC2)", linear[:, :2]),
        (f"{names[1]} (latent, 2 PCs)", _two_dims(autoencoder, seed)),
        (f"{names[2]} (latent means, 2 PCs)", _two_dims(variational, seed)),
        (f"tSNE on {names[0]} (perplexity {perplexity:.0f})", tsne[0]),
        (f"tSNE on {names[1]} (perplexity {perplexity:.0f})", tsne[1]),
        (f"UMAP on {names[0]}", first.obsm[f"X_umap_{archs[0]}"]),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(15, 9.5))
    for ax, (title, coordinates) in zip(axes.ravel(), views):
        scatter_categories(ax, coordinates, first.obs[labels], title, legend=ax is axes[0, 2])
    fig.suptitle(f"The same {first.n_obs} cells, coloured by {labels}")
    fig.tight_layout()
    return fig


def loadings_figure(embedding: ad.AnnData, arch: str, n_genes: int = 6) -> plt.Figure:
    """LDVAE: the genes with the largest loadings (either sign) on each latent factor."""
    loadings = embedding.varm[f"loadings_{arch}"]
    n_factors = loadings.shape[1]
    n_cols = min(5, n_factors)
    n_rows = -(-n_factors // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.6 * n_rows), squeeze=False)
    genes = np.asarray(embedding.var_names)
    for factor, ax in enumerate(axes.ravel()):
        if factor >= n_factors:
            ax.axis("off")
            continue
        top = np.argsort(-np.abs(loadings[:, factor]))[:n_genes][::-1]
        values = loadings[top, factor]
        ax.barh(genes[top], values, color=np.where(values > 0, "tab:red", "tab:blue"))
        ax.set_title(f"factor {factor + 1}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{arch.upper()}: top-loading genes per latent factor (linear decoder weights)")
    fig.tight_layout()
    return fig


def program_heatmap(embedding: ad.AnnData, arch: str, labels: str) -> plt.Figure:
    """VEGA: mean program activity per cell type, standardised per program (``arch``: the programs' model)."""
    standardised = standardised_activity(program_activity(embedding, arch), embedding.obs[labels].to_numpy())
    fig, ax = plt.subplots(figsize=(1 + 0.6 * standardised.shape[1], 1 + 0.4 * standardised.shape[0]))
    image = ax.imshow(standardised.to_numpy(), cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
    ax.set_xticks(range(standardised.shape[1]), standardised.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(standardised.shape[0]), standardised.index, fontsize=8)
    fig.colorbar(image, ax=ax, label="mean activity (z across cell types)")
    ax.set_title(f"{arch.upper()}: gene-program activity per cell type")
    fig.tight_layout()
    return fig


def latent_interpolation(model, embedding: ad.AnnData, labels: str, steps: int = 25, n_markers: int = 4) -> plt.Figure:
    """Seed 000: walk the VAE latent space from one cell type's centroid to another's and decode."""
    counts = embedding.obs[labels].value_counts()
    start, end = counts.index[:2]
    latent = embedding.obsm[f"X_{model.arch}"]
    members = embedding.obs[labels].to_numpy()
    a, b = latent[members == start].mean(0), latent[members == end].mean(0)
    t = np.linspace(0, 1, steps)
    expression = model.decode_expression((1 - t)[:, None] * a + t[:, None] * b)
    difference = expression[-1] - expression[0]
    markers = np.r_[np.argsort(difference)[:n_markers], np.argsort(-difference)[:n_markers]]
    genes = np.asarray(model.gene_names)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for gene in markers:
        ax.plot(t, expression[:, gene], label=genes[gene], ls="-" if difference[gene] > 0 else "--")
    ax.set(xlabel=f"latent path: {start} (0) → {end} (1)", ylabel="decoded log1p(counts per 10k)")
    ax.set_title(f"{model.arch.upper()} latent interpolation between cell-type centroids")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
