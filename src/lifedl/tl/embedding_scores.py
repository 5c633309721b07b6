"""Scores of a cell embedding on the data set's test cells: Leiden against the labels, label transfer, batch
mixing, the planted pairs of a simulation, a mixture's own components against a Gaussian mixture on PCA, and
measures comparable across models without labels (in one PCA space shared by every model)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anndata as ad
import numpy as np

PLANTED_GROUPS = "separated_by"  # a simulation's obs column: which modality tells a cell's type from its pair's


def score_embedding(
    adata: ad.AnnData,
    spec,
    arch: str,
    resolutions: Sequence[float],
    default_resolution: float,
    seed: int,
    model_scores: Callable[[ad.AnnData, ad.AnnData, int], dict] | None = None,
) -> dict[str, float]:
    """Scores of an embedding on the data set's test cells alone (``obs['lifedl_split']``): Leiden against the
    labels (the best resolution chosen on the validation cells), label silhouette, kNN label transfer from the
    train and validation cells, batch mixing, the planted single-modality pairs, a mixture's own components and
    the model's own test measures (``model_scores(test cells, training cells, seed)``, a model's ``test_scores``:
    the IWAE bound, denoising, protein from RNA). The embedding is ``obsm['X_{arch}']``, its Leiden clusters at each
    resolution in ``obs`` (``lifedl.tl.cluster``)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from lifedl.data.splits import TEST, VALIDATION, split_of, split_sizes
    from lifedl.tl.cluster import leiden_key
    from lifedl.tl.metrics import (
        batch_asw,
        best_resolution,
        evaluate_clustering,
        group_agreement,
        knn_batch_entropy,
        knn_label_accuracy,
    )

    split = split_of(adata, spec.where)
    test, validation = split == TEST, split == VALIDATION
    labels, batch = spec.labels, spec.batch
    latent = adata.obsm[f"X_{arch}"]
    clusterings = {res: adata.obs[leiden_key(arch, res)] for res in resolutions}
    label_values = adata.obs[labels] if labels else None
    chosen = None
    if label_values is not None:
        chosen = best_resolution({res: c[validation] for res, c in clusterings.items()}, label_values[validation])
    test_clusterings = {res: clusters[test] for res, clusters in clusterings.items()}
    test_labels = None if label_values is None else label_values[test]
    row = evaluate_clustering(latent[test], test_clusterings, test_labels, default_resolution, seed, chosen)
    if label_values is not None:
        row["knn_accuracy"] = knn_label_accuracy(latent[~test], label_values[~test], latent[test], test_labels)
    if batch:
        row["batch_asw"] = batch_asw(latent[test], adata.obs[batch][test], test_labels)
        row["batch_entropy"] = knn_batch_entropy(latent[test], adata.obs[batch][test])
    if PLANTED_GROUPS in adata.obs and label_values is not None:  # types told apart by one modality only
        row.update(group_agreement(test_labels, test_clusterings[default_resolution], adata.obs[PLANTED_GROUPS][test]))
    shared = shared_pca(adata, ~test, seed)  # one space for the label-free measures and the mixture baseline
    component = f"{arch}_component"  # a mixture model's own clustering (DGD), scored like Leiden's
    if component in adata.obs and label_values is not None:
        row["component_ari"] = adjusted_rand_score(test_labels, adata.obs[component][test])
        row["component_nmi"] = normalized_mutual_info_score(test_labels, adata.obs[component][test])
        # its baseline: a Gaussian mixture with as many components on the PCA of the same training cells
        n_components = len(adata.obs[component].cat.categories)
        baseline = pca_mixture_components(shared, ~test, test, n_components, seed)
        row["pca_gmm_component_ari"] = adjusted_rand_score(test_labels, baseline)
        row["pca_gmm_component_nmi"] = normalized_mutual_info_score(test_labels, baseline)
    if model_scores is not None:
        row.update(model_scores(adata[test], adata[~test], seed))
    row.update(label_free_scores(adata, latent, test_clusterings[default_resolution], test, shared[test], seed))
    return {**split_sizes(adata, spec), "n_dims": latent.shape[1], **row}


def label_free_scores(
    adata: ad.AnnData, latent: np.ndarray, clusters, test: np.ndarray, shared: np.ndarray, seed: int
) -> dict:
    """Measures comparable across models without labels, on the test cells: the clusters' silhouette in one
    space shared by every model (the PCA of the data; each embedding's own silhouette is not comparable), how
    much of sequencing depth the clusters explain, and the embedding's effective dimensions (a collapse shows).
    ``shared``: the test cells in :func:`shared_pca`."""
    from lifedl.pp.counts import counts_matrix, library_sizes
    from lifedl.tl.metrics import depth_association, effective_dimensions, label_silhouette

    scores = {
        "cluster_silhouette_pca": label_silhouette(shared, clusters, seed),
        "depth_eta2": depth_association(clusters, library_sizes(counts_matrix(adata[test]))),
        "effective_dims": effective_dimensions(latent[test]),
    }
    components = [column for column in adata.obs if column.endswith("_component")]  # a mixture's own (DGD)
    if components:
        scores["components_used"] = float(adata.obs[components[0]][test].nunique())
    return scores


def shared_pca(adata: ad.AnnData, fit_rows, seed: int, n_components: int = 50) -> np.ndarray:
    """Every cell in the PCA (scanpy's recipe: log-normalised, scaled, clipped at 10) of the ``fit_rows``: one space
    in which every model's clusters are measured alike."""
    from lifedl.pp.counts import counts_matrix, log_normalise
    from lifedl.pp.pca import ScaledPCA

    expression = log_normalise(counts_matrix(adata)).toarray()
    n_components = min(n_components, int(np.sum(fit_rows)) - 1, adata.n_vars - 1)
    return ScaledPCA.fit(expression[fit_rows], n_components, 10.0, seed).transform(expression)


def pca_mixture_components(components: np.ndarray, fit_rows, scored_rows, n_components: int, seed: int):
    """The DGD's baseline: each scored cell's component of a Gaussian mixture (as many components as the DGD's
    mixture, diagonal covariances) fitted to the ``fit_rows`` of the shared PCA (:func:`shared_pca`)."""
    from lifedl.tl.cluster import gaussian_mixture_components

    return gaussian_mixture_components(components[fit_rows], components[scored_rows], n_components, seed)
