"""Cell representations: PCA and its batch corrections, scvi-tools' SCVI as a peer, the autoencoders, the VAEs
(scVI/scVAE, LDVAE, VEGA) and the deep generative decoder. Why each default is what it is: docs/architectures.md."""

from lifedl.models.registry import NEURAL_TRAINING, family

PCA = {"n_components": 50, "target_sum": 1e4, "max_value": 10.0}
# SCVI's defaults (scvi-tools: 10 latent dimensions, 128 hidden units, one layer, batch 128) with its early
# stopping's patience and at most 400 epochs (its rule for up to 20,000 cells)
PEER = {"n_latent": 10, "n_hidden": 128, "n_layers": 1, "batch_size": 128, "max_epochs": 400, "patience": 45}
# heldout_mask_fraction: the held-out denoising measure's fraction of non-zero entries of test cells hidden
AE_NETWORK = {"n_latent": 10, "n_hidden": 128, "n_layers": 1, "dropout": 0.1, "heldout_mask_fraction": 0.1}
VAE_NETWORK = {"n_hidden": 128, "n_layers": 1, "dropout": 0.1, "likelihood": "nb"}

pca_baseline = family(module="lifedl.models.pca", plan="none", baseline="")
# corrects the cells it embeds together; runs beside every batch-aware model on a data set with batches
batch_baseline = family(
    module="lifedl.models.pca", plan="none", baseline="", needs=("batch",), corrects_together=True, default_run=False
)
autoencoder = family(module="lifedl.models.autoencoder")
vae = family(module="lifedl.models.vae", batch_aware=True)

ENTRIES = (
    pca_baseline(
        "pca",
        "PCA of log-normalised, scaled expression (scanpy recipe); the baseline",
        PCA,
        figures=("embedding_panel", "embedding_panel_deep"),
    ),
    batch_baseline(
        "pca_combat", "ComBat on log-normalised expression by batch, then PCA: a batch-correcting baseline", PCA
    ),
    batch_baseline("pca_harmony", "PCA, then Harmony on its components by batch: a batch-correcting baseline", PCA),
    family(module="lifedl.models.peers", plan="none", batch_aware=True, environment="peer", default_run=False)(
        "scvi",
        "scvi-tools' SCVI (Lopez et al. 2018) as a peer, in its own environment: NB, observed library size",
        PEER,
    ),
    autoencoder(
        "ae",
        "deterministic autoencoder on log-normalised expression (MSE): the seeds' AE vs PCA",
        {**AE_NETWORK, **NEURAL_TRAINING},
        figures=("embedding_panel",),
    ),
    autoencoder(
        "deep_ae",
        "seed 004's 8-layer autoencoder: the same AE with three hidden layers each way (4 linear layers each)",
        {**AE_NETWORK, "n_layers": 3, **NEURAL_TRAINING},
        figures=("embedding_panel_deep",),
        default_run=False,
    ),
    autoencoder(
        "dae",
        "denoising autoencoder: non-zero counts dropped at rate `corruption`, trained to give back clean values",
        {**AE_NETWORK, "corruption": 0.2, **NEURAL_TRAINING},
        default_run=False,
    ),
    vae(
        "vae",
        "VAE on counts, library-size scaled, likelihood nb/zinb/poisson/gaussian (scVI, scVAE)",
        {"n_latent": 10, **VAE_NETWORK, **NEURAL_TRAINING},
        figures=("vae_interpolation", "embedding_panel", "embedding_panel_deep", "generation"),
        capabilities=frozenset({"prior_samples"}),
        compared_with=("scvi",),
    ),
    vae(
        "ldvae",
        "linearly decoded VAE: gene logits = W z + b, W = loadings (Svensson et al. 2020)",
        {"n_latent": 10, **VAE_NETWORK, **NEURAL_TRAINING},
        figures=("ldvae_loadings",),
        capabilities=frozenset({"loadings"}),
        compared_with=("vae",),
    ),
    vae(
        "vega",
        "VAE with a gene-program-masked linear decoder: one latent dimension per program (Seninge et al. 2021)",
        # gmt "": the programs stored with the data set (datasets.tsv 'programs'), else PBMC marker programs.
        # positive_decoder: non-negative program-to-gene weights, as the paper's code (positive_decoder=True).
        {
            "gmt": "",
            "min_genes": 3,
            "positive_decoder": True,
            **VAE_NETWORK,
            **NEURAL_TRAINING,
            "learning_rate": 1e-2,  # trained to convergence (docs/architectures.md)
            "max_epochs": 1000,
        },
        figures=("vega_programs",),
        capabilities=frozenset({"gene_programs"}),
        compared_with=("vae",),
    ),
    family(module="lifedl.models.dgd", plan="dgd")(
        "dgd",
        "deep generative decoder: free per-cell representations, NB decoder, mixture prior (Schuster & Krogh 2021)",
        # the paper's PBMC sizes; the decoder's rate and epochs for a small data set on one CPU thread
        # (docs/architectures.md). embed_step_size: Adam's step when embedding new cells, in units of the
        # mixture's component standard deviation.
        {
            "n_latent": 20,
            "n_hidden": 100,
            "n_layers": 3,
            "n_components": 18,
            "covariance": "diagonal",
            "softball_radius": 1.0,
            "softball_sharpness": 1.0,
            "initial_sd": 0.1,
            "log_var_prior_sd": 1.0,
            "dirichlet_alpha": 1.0,
            "learning_rate": 2e-3,
            "representation_learning_rate": 1e-2,
            "mixture_learning_rate": 1e-2,
            "weight_decay": 1e-4,
            "batch_size": 128,
            "max_epochs": 200,
            "patience": 20,
            "embed_steps": 50,
            "embed_step_size": 0.2,
        },
        figures=("dgd_latent", "dgd_subclusters", "generation"),
        capabilities=frozenset({"prior_samples"}),
    ),
)
