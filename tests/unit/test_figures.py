"""The UMAP panels: a legend at any number of clusters, no colour standing for two clusters, a depth panel."""

import anndata as ad
import numpy as np
import pandas as pd


def _panel(n_clusters: int, n_cells: int = 600) -> ad.AnnData:
    rng = np.random.default_rng(0)
    adata = ad.AnnData(obs=pd.DataFrame(index=[f"c{i}" for i in range(n_cells)]))
    adata.obs["leiden_dgd_1"] = pd.Categorical((np.arange(n_cells) % n_clusters).astype(str))
    adata.obs["total_counts"] = np.exp(rng.normal(7, 1, n_cells))
    adata.obsm["X_umap_dgd"] = rng.normal(size=(n_cells, 2))
    return adata


def test_28_clusters_get_a_legend_of_distinct_colours_and_100_get_their_names_on_the_plot():
    import matplotlib

    matplotlib.use("Agg")
    from lifedl.pl.figures import PALETTE, scatter_categories

    _, (left, right) = matplotlib.pyplot.subplots(1, 2)
    scatter_categories(left, _panel(28).obsm["X_umap_dgd"], _panel(28).obs["leiden_dgd_1"], "28")
    legend = left.get_legend()
    assert legend is not None and len(legend.get_texts()) == 28 and legend._ncols == 2
    colours = [tuple(collection.get_facecolor()[0]) for collection in left.collections]
    assert len(set(colours)) == 28 and len(set(PALETTE)) == 60  # no colour reused for two clusters
    many = _panel(100)
    scatter_categories(right, many.obsm["X_umap_dgd"], many.obs["leiden_dgd_1"], "100")
    assert right.get_legend() is None and len(right.texts) == 100  # each cluster named at its centre


def test_the_umap_figure_shows_depth_and_no_label_panel_without_labels():
    from lifedl.data.spec import DatasetSpec
    from lifedl.figures import FIGURES

    figure = FIGURES["umap"].draw({"dgd": _panel(5)}, DatasetSpec(id="x"), {"default_resolution": 1.0})
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["DGD: Leiden 1", "DGD: log10 UMIs per cell"]


def test_a_figure_is_drawn_from_the_architectures_naming_it_where_enough_of_them_run():
    from lifedl.figures import figure_input_paths, figures_for

    def by_task(*archs):
        return {"representation": list(archs), "all": list(archs)}

    three = figures_for(by_task("pca", "ae", "vae"), has_labels=True)
    assert "embedding_panel" in three and "embedding_panel_deep" not in three  # deep_ae does not run
    assert figure_input_paths("embedding_panel", by_task("vae", "ae", "pca")) == {
        "pca": "embeddings/pca.h5ad",  # registry order, whatever order the data set lists them in
        "ae": "embeddings/ae.h5ad",
        "vae": "embeddings/vae.h5ad",
    }
    assert "embedding_panel" not in figures_for(by_task("pca", "vae"), has_labels=True)  # a panel of three
    assert "embedding_panel" not in figures_for(by_task("pca", "ae", "vae"), has_labels=False)  # coloured by label
    assert figure_input_paths("vae_interpolation", by_task("vae")) == {
        "model": "models/vae/model.ckpt",
        "embedding": "embeddings/vae.h5ad",
    }
