"""snf (lifedl.models.network_fusion): the pca's and ae's spaces of the same seed fused; its graph is no worse than
the weaker view's and clusters the planted types, a cell alone embeds as among others, and a checkpoint alone gives
the same graph."""

import numpy as np
import scanpy as sc
from fast_training import fit
from sklearn.metrics import adjusted_rand_score

from lifedl.models.base import load_model, save_checkpoint
from lifedl.tl.snf import affinity_matrix, full_kernel, fused_neighbors


def _purity(distances, types) -> float:
    """The share of each cell's graph neighbours of its own type."""
    rows, columns = distances.nonzero()
    return float((types[rows] == types[columns]).mean())


def test_the_fused_graph_clusters_the_planted_types(small_counts, tmp_path):
    types = small_counts.obs["cell_type"].astype(str).to_numpy()
    pca = fit("pca", small_counts, tmp_path / "pca")
    ae = fit("ae", small_counts, tmp_path / "ae", max_epochs=40, patience=40, learning_rate=1e-2)
    trained = fit("snf", small_counts, tmp_path / "snf", models={"pca": pca, "ae": ae}, k=10).trained
    distances, connectivities = trained.neighbor_graph(small_counts, 15)
    assert connectivities.shape == (400, 400) and (distances.getnnz(axis=1) == 14).all()
    ae_alone = fused_neighbors(full_kernel(affinity_matrix(ae.trained.embed(small_counts), 10)), 15)[0]
    assert _purity(distances, types) > (types[ae_alone[:, 1:]] == types[:, None]).mean()
    adata = small_counts.copy()
    adata.obsp["connectivities"], adata.obsp["distances"] = connectivities, distances
    adata.uns["neighbors"] = {"connectivities_key": "connectivities", "distances_key": "distances", "params": {}}
    sc.tl.leiden(adata, resolution=0.3, flavor="igraph", n_iterations=2, directed=False, random_state=0)
    assert adjusted_rand_score(types, adata.obs["leiden"]) > 0.5
    assert trained.gene_names == list(small_counts.var_names)  # what MLflow's pyfunc model reads new cells on
    together = trained.embed(small_counts)
    np.testing.assert_allclose(trained.embed(small_counts[5:6]), together[5:6], rtol=1e-5, atol=1e-6)
    save_checkpoint(trained, tmp_path / "snf.ckpt")
    _, again = load_model(tmp_path / "snf.ckpt").neighbor_graph(small_counts, 15)
    np.testing.assert_allclose(again.toarray(), connectivities.toarray())
