"""scCAN-style clustering (seed 002): an autoencoder's latent space fused with the expression's PCA by similarity
network fusion (:mod:`lifedl.tl.snf`, Wang et al. 2014), the cells clustered on the fused network.

``snf`` uses the trained ``pca`` and ``ae`` of the same seed (nothing is trained again): its embedding is both
views side by side, each scaled to unit mean variance on the training cells (for the UMAP and the label-free
scores), and its neighbour
graph is the fused network's (Leiden clusters it), as WNN's is WNN's.
"""

from __future__ import annotations

import anndata as ad
import numpy as np

from lifedl.data.splits import training_cells
from lifedl.errors import LifedlError
from lifedl.models.base import Setup, TrainedModel, model_from_state, model_state
from lifedl.tl.snf import affinity_matrix, fuse, fused_neighbors

VIEWS = ("pca", "ae")


class NetworkFusionModel(TrainedModel):
    def __init__(self, arch: str, params: dict, views: dict[str, TrainedModel], scales, final_metrics=None):
        self.arch, self.params, self.views = arch, dict(params), dict(views)
        self.scales = [float(scale) for scale in scales]  # each view's root mean variance on the training cells
        self.final_metrics = dict(final_metrics or {})

    @property
    def gene_names(self) -> list[str]:
        """The genes its views read (the pca's; the ae was trained on the same), as MLflow's pyfunc model asks."""
        return self.views["pca"].gene_names

    def _views(self, adata: ad.AnnData) -> list[np.ndarray]:
        return [
            np.asarray(model.embed(adata), dtype=np.float64) / scale
            for model, scale in zip(self.views.values(), self.scales, strict=True)
        ]

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        return np.hstack(self._views(adata)).astype(np.float32)

    def neighbor_graph(self, adata: ad.AnnData, n_neighbors: int):
        """The fused network's ``n_neighbors`` strongest edges per cell, as scanpy's (distances, connectivities)."""
        from lifedl.tl.wnn import knn_graph

        if adata.n_obs > self.params["max_cells"]:
            raise LifedlError(
                f"snf: {adata.n_obs} cells; network fusion holds several dense cells x cells matrices, so it runs on "
                f"at most max_cells={self.params['max_cells']} (params.snf.max_cells; about 8 x n^2 bytes each)."
            )
        k, mu = self.params["k"], self.params["mu"]
        fused = fuse([affinity_matrix(view, k, mu) for view in self._views(adata)], k, self.params["iterations"])
        print(f"snf: {len(self.views)} views fused over {adata.n_obs} cells (K={k}, mu={mu})", flush=True)
        return knn_graph(*fused_neighbors(fused, n_neighbors))

    def own_state(self) -> dict:
        return {"views": {name: model_state(model) for name, model in self.views.items()}, "scales": self.scales}


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "snf", models=None) -> Setup:
    views = {name: models[name] for name in VIEWS}
    train = training_cells(adata)
    scales = [max(float(np.sqrt(np.var(model.embed(train), axis=0).mean())), 1e-12) for model in views.values()]
    return Setup(network=None, arrays={}, finish=lambda _: NetworkFusionModel(arch, params, views, scales))


def from_checkpoint(checkpoint: dict) -> NetworkFusionModel:
    views = {name: model_from_state(state) for name, state in checkpoint["views"].items()}
    arch, params, metrics = checkpoint["arch"], checkpoint["params"], checkpoint["final_metrics"]
    return NetworkFusionModel(arch, params, views, checkpoint["scales"], metrics)
