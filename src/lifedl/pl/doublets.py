"""The doublet detectors' figure: precision against recall of every detector on the held-out cells (as the SOLO
paper draws its comparison), and each detector's scores of singlets, heterotypic and homotypic doublets (as the
scrublet paper draws its histogram of doublet scores)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve

from lifedl.data.doublets import DOUBLET

KIND_COLOURS = {"singlet": "#9e9e9e", "heterotypic": "#d62728", "homotypic": "#ff7f0e", DOUBLET: "#d62728"}


def doublet_figure(predictions: Mapping[str, pd.DataFrame]) -> plt.Figure:
    """``predictions``: per detector, its table of test cells (label, doublet_score and, where planted by type,
    kind)."""
    n = len(predictions)
    figure, axes = plt.subplots(1, n + 1, figsize=(3.3 * (n + 1), 3.2), squeeze=False)
    curves = axes[0, 0]
    for arch, table in predictions.items():
        truth = table["label"].astype(str).to_numpy() == DOUBLET
        precision, recall, _ = precision_recall_curve(truth, table["doublet_score"].to_numpy(dtype=float))
        curves.plot(recall, precision, label=arch)
    prevalence = float(truth.mean())
    curves.axhline(prevalence, color="black", lw=0.8, ls=":", label=f"chance ({prevalence:.2f})")
    curves.set(xlabel="recall of the doublets", ylabel="precision", title="test cells", ylim=(0, 1.02))
    curves.legend(fontsize=7)
    for ax, (arch, table) in zip(axes[0, 1:], predictions.items(), strict=True):
        kinds = table["kind" if "kind" in table else "label"].astype(str).to_numpy()
        scores = table["doublet_score"].to_numpy(dtype=float)
        bins = np.linspace(scores.min(), scores.max(), 30)
        for kind in [k for k in KIND_COLOURS if k in set(kinds)]:
            ax.hist(scores[kinds == kind], bins=bins, alpha=0.6, density=True, color=KIND_COLOURS[kind], label=kind)
        ax.set(xlabel="doublet score", ylabel="density", title=arch)
        ax.legend(fontsize=7)
    figure.tight_layout()
    return figure
