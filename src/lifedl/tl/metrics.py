"""How well an embedding and its clusters recover known labels (scikit-learn implementations)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

SILHOUETTE_MAX_CELLS = 20_000  # silhouette is O(n^2); score a seeded sample above this


def cluster_agreement(labels: pd.Series, clusters: pd.Series) -> dict[str, float]:
    return {
        "ari": float(adjusted_rand_score(labels, clusters)),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
    }


def label_silhouette(embedding: np.ndarray, labels: pd.Series, seed: int = 0) -> float:
    """Mean silhouette width of the labels in the embedding (-1..1, higher = better separated)."""
    if labels.nunique() < 2:
        return float("nan")
    sample_size = SILHOUETTE_MAX_CELLS if len(labels) > SILHOUETTE_MAX_CELLS else None
    return float(silhouette_score(embedding, np.asarray(labels), sample_size=sample_size, random_state=seed))


def evaluate_clustering(
    embedding: np.ndarray,
    clusterings: dict[float, pd.Series],
    labels: pd.Series | None,
    default_resolution: float,
    seed: int = 0,
) -> dict[str, float]:
    """One row of metrics: at the default resolution, and the best (by ARI) over all resolutions."""
    default = clusterings[default_resolution]
    row: dict[str, float] = {
        "resolution": default_resolution,
        "n_clusters": float(default.nunique()),
    }
    if labels is None:
        return row
    per_resolution = {res: cluster_agreement(labels, clusters) for res, clusters in clusterings.items()}
    best_resolution = max(per_resolution, key=lambda res: per_resolution[res]["ari"])
    row.update(per_resolution[default_resolution])
    row.update(
        {
            "ari_best": per_resolution[best_resolution]["ari"],
            "nmi_best": per_resolution[best_resolution]["nmi"],
            "resolution_best": best_resolution,
            "n_clusters_best": float(clusterings[best_resolution].nunique()),
            "label_silhouette": label_silhouette(embedding, labels, seed),
        }
    )
    return row
