"""Figures for two modalities of the same cells: the joint UMAP with each modality's markers, and protein
predicted from RNA against the measured protein."""

from __future__ import annotations

from collections.abc import Mapping

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lifedl.pl.figures import scatter_categories
from lifedl.pp.counts import counts_matrix, log_normalise
from lifedl.pp.protein import clr, protein_counts, protein_names
from lifedl.tl.multiomics import prediction_correlations


def _largest_difference(values: pd.DataFrame, labels: pd.Series, types: list[str] | None) -> str:
    """The column whose mean differs most between ``types`` (a pair), else whose type means vary most."""
    means = values.groupby(np.asarray(labels).astype(str)).mean()
    if types and len(types) == 2:
        return str((means.loc[types[0]] - means.loc[types[1]]).abs().idxmax())
    return str(means.var().idxmax())


def modality_markers(adata: ad.AnnData, labels: str, groups: str = "separated_by") -> dict[str, pd.Series]:
    """A protein (CLR) and a gene (log-normalised) that tell cell types apart, each cell's value under the marker's
    name: in a simulation those that best separate the pair of types that only protein (resp. only RNA) tells
    apart; else those whose means vary most across types."""
    protein = pd.DataFrame(clr(protein_counts(adata)), columns=protein_names(adata))
    rna = pd.DataFrame(log_normalise(counts_matrix(adata)).toarray(), columns=list(adata.var_names))
    markers = {}
    for group, values in (("protein", protein), ("rna", rna)):
        pair = None
        if groups in adata.obs:
            members = (adata.obs[groups].astype(str) == group).to_numpy()
            pair = sorted(adata.obs.loc[members, labels].astype(str).unique())
        markers[group] = values[_largest_difference(values, adata.obs[labels], pair)]
    return markers


def joint_umap_figure(panels: Mapping[str, ad.AnnData], labels: str) -> plt.Figure:
    """One row per joint embedding: UMAP coloured by cell type, by the protein marker and by the RNA marker."""
    markers = modality_markers(next(iter(panels.values())), labels)
    titles = {
        "protein": f"protein {markers['protein'].name} (CLR)",
        "rna": f"gene {markers['rna'].name} (log-normalised)",
    }
    fig, axes = plt.subplots(len(panels), 3, figsize=(15.5, 4.2 * len(panels)), squeeze=False)
    for row, (arch, adata) in enumerate(panels.items()):
        umap = adata.obsm[f"X_umap_{arch}"]
        scatter_categories(axes[row, 0], umap, adata.obs[labels], f"{arch.upper()}: {labels}")
        for ax, group in zip(axes[row, 1:], ("protein", "rna")):
            points = ax.scatter(umap[:, 0], umap[:, 1], c=markers[group].to_numpy(), s=3, cmap="viridis")
            fig.colorbar(points, ax=ax, shrink=0.7)
            ax.set_title(f"{arch.upper()}: {titles[group]}", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Joint embeddings: cell types and one marker of each modality")
    fig.tight_layout()
    return fig


def protein_prediction_figure(adata: ad.AnnData, arch: str, held_out: np.ndarray) -> plt.Figure:
    """Per protein: CLR predicted from the RNA alone against the measured CLR, on held-out cells."""
    names = protein_names(adata)
    observed = clr(protein_counts(adata[held_out]))
    predicted = clr(adata[held_out].obsm[f"protein_predicted_{arch}"][names].to_numpy())
    n_cols = min(5, len(names))
    n_rows = -(-len(names) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3 * n_cols, 2.8 * n_rows), squeeze=False)
    for p, ax in enumerate(axes.ravel()):
        if p >= len(names):
            ax.axis("off")
            continue
        r = prediction_correlations(observed[:, [p]].T, predicted[:, [p]].T)["per_cell"]
        ax.scatter(observed[:, p], predicted[:, p], s=3, alpha=0.5)
        ax.set_title(f"{names[p]}  r = {r:.2f}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.supxlabel("measured (CLR)")
    fig.supylabel(f"{arch} from RNA alone (CLR)")
    fig.suptitle(f"Protein predicted from RNA on {int(held_out.sum())} held-out cells")
    fig.tight_layout()
    return fig
