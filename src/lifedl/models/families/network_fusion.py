"""Network-fusion clustering (seed 002: scCAN, an autoencoder and network fusion): the cells' autoencoder latent
space and their expression's PCA fused by similarity network fusion, clustered by Leiden on the fused network."""

from lifedl.models.registry import family

fusion = family(module="lifedl.models.network_fusion", plan="none", baseline="pca")

ENTRIES = (
    fusion(
        "snf",
        "similarity network fusion (Wang et al. 2014) of the pca's and the ae's spaces of the same seed (K=20 "
        "neighbours, mu=0.5, 20 rounds, as the paper's defaults), Leiden on the fused network's strongest edges",
        {"k": 20, "mu": 0.5, "iterations": 20, "max_cells": 15000},
        uses_models=("pca", "ae"),
        compared_with=("ae",),
        default_run=False,
    ),
)
