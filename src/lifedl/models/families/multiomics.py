"""CITE-seq: RNA and surface proteins of the same cells. The joint PCAs and WNN (Seurat v4), seed 004's integration
autoencoder, multivae, and scvi-tools' TOTALVI as its peer."""

from lifedl.models.registry import NEURAL_TRAINING, family

# Seurat's WNN vignette: 30 RNA PCs, 18 protein PCs (fewer where there are fewer proteins)
JOINT_PCA = {"n_components": 30, "n_protein_components": 18, "target_sum": 1e4, "max_value": 10.0}
INTEGRATION_NETWORK = {"n_latent": 10, "n_hidden": 128, "n_layers": 1, "dropout": 0.1}
# TOTALVI's own defaults (scvi-tools 1.4): 20 latent dimensions, 256 hidden units, a 2-layer encoder and a 1-layer
# decoder, batch 256
TOTALVI = {
    "n_latent": 20,
    "n_hidden": 256,
    "n_layers_encoder": 2,
    "n_layers_decoder": 1,
    "batch_size": 256,
    "max_epochs": 400,
    "patience": 45,
}

joint_pca = family(module="lifedl.models.joint_pca", data_kind="cells+protein", plan="none", baseline="")
network = family(module="lifedl.models.multiomics", data_kind="cells+protein")

ENTRIES = (
    joint_pca(
        "pca_protein",
        "PCA of the surface proteins alone (CLR per cell, scaled): what the antibody panel separates",
        JOINT_PCA,
    ),
    joint_pca(
        "pca_concat",
        "PCA of scaled RNA and protein side by side, each modality weighted by 1/sqrt(its features)",
        JOINT_PCA,
        figures=("embedding_panel_joint",),
    ),
    joint_pca(
        "wnn",
        "weighted nearest neighbours of an RNA PCA and a protein PCA, each Harmony-corrected where there are "
        "batches (Hao et al. 2021, Seurat v4, muon)",
        JOINT_PCA,
        corrects_together=True,
        figures=("citeseq_umap",),
    ),
    network(
        "concat_ae",
        "autoencoder on log-normalised RNA and CLR protein side by side (seed 004's integration autoencoder)",
        {**INTEGRATION_NETWORK, **NEURAL_TRAINING},
        figures=("embedding_panel_joint",),
    ),
    network(
        "multivae",
        "VAE with an encoder per modality, one shared latent (product of experts), NB RNA and a totalVI-like "
        "background/foreground protein mixture",
        # protein_mask_rate: share of training cells whose protein the encoder does not see (0: chosen on a
        # validation simulation, docs/architectures.md)
        {**INTEGRATION_NETWORK, "protein_mask_rate": 0.0, **NEURAL_TRAINING},
        figures=("embedding_panel_joint", "citeseq_umap", "protein_prediction"),
        batch_aware=True,
        compared_with=("totalvi",),
    ),
    family(module="lifedl.models.peers", data_kind="cells+protein", plan="none", environment="peer")(
        "totalvi",
        "scvi-tools' TOTALVI (Gayoso et al. 2021) as a peer of multivae, in its own environment",
        TOTALVI,
        baseline="pca_concat",
        batch_aware=True,
        default_run=False,
    ),
)
