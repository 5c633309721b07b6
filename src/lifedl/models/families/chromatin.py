"""Chromatin accessibility: TF-IDF + LSI (the field's baseline: Signac, ArchR, muon) and a PeakVI-like VAE; and the
RNA and accessibility of the same cells (10x Multiome) in one joint VAE."""

from lifedl.models.registry import NEURAL_TRAINING, family

accessibility = family(module="lifedl.models.chromatin", data_kind="peaks", task="representation")

ENTRIES = (
    accessibility(
        "lsi",
        "TF-IDF (muon's formula, the inverse document frequency of the training cells) and a truncated SVD fitted on "
        "the training cells; components following sequencing depth left out (as Signac drops the first)",
        {"n_components": 30, "depth_correlation_max": 0.75},
        plan="none",
        baseline="",
    ),
    accessibility(
        "peak_vae",
        "a PeakVI-like VAE (Ashuach et al. 2022): regions binarised, Bernoulli probabilities = decoder(z) x a cell "
        "factor x a region factor, KL to N(0, I); PEAKVI's published training (learning rate 1e-4, weight decay "
        "1e-3, KL warm-up 50 epochs, patience 50) and sizes for 5,000 regions (hidden sqrt(regions) ~ 64, latent 8)",
        {
            **NEURAL_TRAINING,
            "learning_rate": 1e-4,
            "weight_decay": 1e-3,
            "kl_warmup_epochs": 50,
            "max_epochs": 500,
            "patience": 50,
            "n_latent": 8,
            "n_hidden": 64,
            "n_layers": 2,
            "dropout": 0.1,
        },
        baseline="lsi",
        compared_with=("peakvi",),
    ),
    family(module="lifedl.models.peers", data_kind="peaks", plan="none", environment="peer")(
        "peakvi",
        "scvi-tools' PEAKVI (Ashuach et al. 2022) as peak_vae's peer, in its own environment, with its own defaults "
        "(network sizes from the number of regions, learning rate 1e-4, KL warm-up 50 epochs)",
        {"batch_size": 128, "max_epochs": 500, "patience": 50},
        baseline="lsi",
        default_run=False,
    ),
    family(module="lifedl.models.multiome", data_kind="cells+peaks", task="representation")(
        "multiome_vae",
        "a joint VAE of the RNA and the accessibility of the same cells: the product of each modality's Gaussian "
        "expert and N(0, I); negative-binomial RNA (scVI's) and Bernoulli regions with cell and region factors "
        "(PeakVI's) decoded from it",
        {**NEURAL_TRAINING, "n_latent": 10, "n_hidden": 128, "n_layers": 1, "dropout": 0.1, "patience": 20},
        baseline="pca",
    ),
)
