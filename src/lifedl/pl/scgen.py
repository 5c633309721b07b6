"""scGen's figure 2: predicted vs real mean expression of the held-out cell type's stimulated cells."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from lifedl.tl.perturbation import ResponseMeans, r2_table

METHOD_TITLES = {"no_change": "no change (control cells)", "average_response": "control + other types' response"}
N_LABELLED_GENES = 5


def response_scatter_figure(means: ResponseMeans, heldout_type: str) -> plt.Figure:
    """One panel per method (the model's prediction, then the two baselines): per-gene mean log-normalised
    expression, predicted (y) vs the held-out type's real stimulated cells (x); the top response genes in
    colour, the largest responses named, R^2 over all genes and over the top genes in the title.

    ``means``: :func:`lifedl.tl.perturbation.response_means`, the numbers behind the R^2 table too."""
    top = np.zeros(len(means.real), dtype=bool)
    top[means.top_genes] = True
    fig, axes = plt.subplots(1, len(means.predictions), figsize=(4.3 * len(means.predictions), 4.3), squeeze=False)
    r2 = r2_table(means).set_index("method")
    limit = max(means.real.max(), max(p.max() for p in means.predictions.values())) * 1.05
    for ax, (name, prediction) in zip(axes[0], means.predictions.items()):
        ax.plot([0, limit], [0, limit], color="grey", lw=0.8, ls="--", zorder=0)
        ax.scatter(means.real[~top], prediction[~top], s=5, c="lightgrey", label="other genes")
        ax.scatter(means.real[top], prediction[top], s=7, c="tab:red", label=f"top {top.sum()} response genes")
        for gene in means.top_genes[:N_LABELLED_GENES]:
            ax.annotate(means.gene_names[gene], (means.real[gene], prediction[gene]), fontsize=6)
        ax.set_title(
            f"{METHOD_TITLES.get(name, name)}\nR² all genes {r2.loc[name, 'r2_all_genes']:.3f}, "
            f"top {top.sum()} {r2.loc[name, 'r2_top_genes']:.3f}",
            fontsize=9,
        )
        ax.set(xlim=(0, limit), ylim=(0, limit), xlabel=f"real stimulated {heldout_type}: mean log expression")
    axes[0, 0].set_ylabel("predicted: mean log expression")
    axes[0, 0].legend(fontsize=7, loc="upper left", markerscale=2)
    fig.suptitle(f"Response of held-out '{heldout_type}' to the stimulus", fontsize=10)
    fig.tight_layout()
    return fig
