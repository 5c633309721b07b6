"""How well an embedding and its clusters recover known labels (scikit-learn implementations)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_samples, silhouette_score
from sklearn.neighbors import KNeighborsClassifier

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


def resolution_stability(clusterings: dict[float, pd.Series]) -> float:
    """Mean ARI between the clusterings at neighbouring resolutions (1 = the same partition throughout)."""
    ordered = [clusterings[resolution] for resolution in sorted(clusterings)]
    if len(ordered) < 2:
        return float("nan")
    return float(np.mean([adjusted_rand_score(a, b) for a, b in itertools.pairwise(ordered)]))


def knn_label_accuracy(reference: np.ndarray, reference_labels, query: np.ndarray, query_labels, k: int = 15) -> float:
    """Accuracy on the query cells (the test split) of a k-nearest-neighbour classifier of the labels fitted on
    the reference cells' embedding (train and validation)."""
    reference_labels = np.asarray(reference_labels).astype(str)
    classifier = KNeighborsClassifier(n_neighbors=min(k, len(reference_labels))).fit(reference, reference_labels)
    return float(np.mean(classifier.predict(query) == np.asarray(query_labels).astype(str)))


def best_resolution(clusterings: dict[float, pd.Series], labels: pd.Series) -> float:
    """The Leiden resolution whose clusters agree best (ARI) with the labels: chosen on validation cells."""
    return max(clusterings, key=lambda res: cluster_agreement(labels, clusterings[res])["ari"])


def batch_asw(embedding: np.ndarray, batches: pd.Series, labels: pd.Series | None = None) -> float:
    """Batch mixing as scib's batch ASW: per cell 1 - |silhouette of its batch|, within each label, averaged
    over labels (1 = batches fully mixed, 0 = separated)."""
    batches = np.asarray(batches).astype(str)
    groups = np.asarray(labels).astype(str) if labels is not None else np.zeros(len(batches), dtype=str)
    per_group = []
    for group in np.unique(groups):
        members = groups == group
        if len(np.unique(batches[members])) < 2 or members.sum() < 3:
            continue
        per_group.append(np.mean(1 - np.abs(silhouette_samples(embedding[members], batches[members]))))
    return float(np.mean(per_group)) if per_group else float("nan")


def knn_batch_entropy(embedding: np.ndarray, batches: pd.Series, k: int = 50) -> float:
    """Batch mixing as Haghverdi et al. 2018's entropy: per cell the entropy of the batches among its k nearest
    neighbours, divided by log(number of batches) (1 = neighbourhoods as mixed as the batches allow, 0 = one
    batch each), averaged over cells."""
    from sklearn.neighbors import NearestNeighbors

    codes, names = pd.factorize(np.asarray(batches).astype(str))
    if len(names) < 2:
        return float("nan")
    k = min(k, len(codes) - 1)
    _, index = NearestNeighbors(n_neighbors=k + 1).fit(embedding).kneighbors(embedding)
    shares = np.stack([(codes[index[:, 1:]] == b).mean(axis=1) for b in range(len(names))], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(shares > 0, shares * np.log(shares), 0.0).sum(axis=1)
    return float(entropy.mean() / np.log(len(names)))


def group_agreement(labels: pd.Series, clusters: pd.Series, groups: pd.Series) -> dict[str, float]:
    """ARI of the clusters with the labels among the cells of each group (e.g. the cell types that only one
    modality tells apart): ``ari_<group>``."""
    groups = np.asarray(groups).astype(str)
    return {
        f"ari_{group}": float(
            adjusted_rand_score(np.asarray(labels)[groups == group], np.asarray(clusters)[groups == group])
        )
        for group in sorted(set(groups))
    }


def evaluate_clustering(
    embedding: np.ndarray,
    clusterings: dict[float, pd.Series],
    labels: pd.Series | None,
    default_resolution: float,
    seed: int = 0,
    chosen_resolution: float | None = None,
) -> dict[str, float]:
    """One row of metrics: at the default resolution, and at ``chosen_resolution`` (the best by ARI on other
    cells, :func:`best_resolution` on the validation split; never chosen on the cells scored here).

    Label-free measures come first, for data without labels as much as with them: the silhouette of
    the Leiden clusters in the embedding (are they separated?) and their stability across resolutions
    (mean ARI between the clusterings at neighbouring resolutions: does a small change of the one free
    parameter redraw them?)."""
    default = clusterings[default_resolution]
    row: dict[str, float] = {
        "resolution": default_resolution,
        "n_clusters": float(default.nunique()),
        "cluster_silhouette": label_silhouette(embedding, default, seed),
        "resolution_stability": resolution_stability(clusterings),
    }
    if labels is None:
        return row
    chosen = default_resolution if chosen_resolution is None else chosen_resolution
    row.update(cluster_agreement(labels, default))
    agreement = cluster_agreement(labels, clusterings[chosen])
    row.update(
        {
            "ari_best": agreement["ari"],
            "nmi_best": agreement["nmi"],
            "resolution_best": chosen,
            "n_clusters_best": float(clusterings[chosen].nunique()),
            "label_silhouette": label_silhouette(embedding, labels, seed),
        }
    )
    return row


def depth_association(clusters: pd.Series, library_sizes: np.ndarray) -> float:
    """Share of the variance of log sequencing depth that the clusters explain (eta squared, 0..1): clusters
    that follow depth (technical) rather than biology score high."""
    depth = pd.Series(np.log1p(np.asarray(library_sizes, dtype=float)), index=clusters.index)
    total = ((depth - depth.mean()) ** 2).sum()
    if total == 0:
        return float("nan")
    means = depth.groupby(clusters.to_numpy(), observed=True).transform("mean")
    return float(((means - depth.mean()) ** 2).sum() / total)


def effective_dimensions(embedding: np.ndarray) -> float:
    """The participation ratio of the embedding's covariance eigenvalues, (sum l)^2 / sum l^2: about k for k
    equally used dimensions, near 1 for an embedding collapsed onto a line, 0 for one collapsed onto a point."""
    values = np.clip(np.linalg.eigvalsh(np.cov(np.asarray(embedding, dtype=float), rowvar=False)), 0, None)
    return float(values.sum() ** 2 / (values**2).sum()) if (values**2).sum() > 0 else 0.0


def clustering_agreement(clusterings: dict[str, pd.Series]) -> pd.DataFrame:
    """The adjusted Rand index between every two models' clusterings of the same cells (a square table, 1 on the
    diagonal): on data without labels, whether the models find the same groups at all."""
    names = list(clusterings)
    table = pd.DataFrame(1.0, index=pd.Index(names, name="arch"), columns=names)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            table.loc[first, second] = table.loc[second, first] = adjusted_rand_score(
                clusterings[first].to_numpy(), clusterings[second].to_numpy()
            )
    return table
