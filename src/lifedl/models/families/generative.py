"""Cells generated or predicted: scGAN / cscGAN, latent diffusion and scGen. Why each default is what it is: docs/architectures.md."""

from lifedl.models.registry import NEURAL_TRAINING, family

ENTRIES = (
    family(module="lifedl.models.scgan", task="generator", plan="gan")(
        "scgan",
        "WGAN-GP generating library-size-normalised cells, optionally per cell type (scGAN/cscGAN, Marouf et al. 2020)",
        # the paper's networks, critic steps, penalty, totals and AMSGrad; its learning-rate schedule shortened to
        # 80 epochs (docs/architectures.md)
        {
            "n_latent": 128,
            "generator_layers": [256, 512, 1024],
            "critic_layers": [1024, 512, 256],
            "library_size": 20000.0,
            "conditional": False,
            "critic_steps": 5,
            "penalty_weight": 10.0,
            "learning_rate": 1e-3,
            "learning_rate_final": 1e-4,
            "beta1": 0.0,
            "beta2": 0.9,
            "amsgrad": True,
            "batch_size": 128,
            "max_epochs": 80,
            # RF AUROC of generated vs training cells every so many epochs (0: never): the realism-vs-budget
            # curve (figure scgan_realism_curve); about 4 s each for 700 cells
            "realism_every": 20,
        },
        figures=("scgan_realism_curve",),
    ),
    family(
        module="lifedl.models.diffusion",
        task="generator",
        uses_models=("vae",),
        capabilities=frozenset({"prior_samples"}),
        default_run=False,  # make reproduce: PBMC3k and pbmc68k_reduced, and the augmentation experiment
    )(
        "latent_diffusion",
        "denoising diffusion (DDPM, Ho et al. 2020) in the latent space of the vae of the same seed (frozen; latent "
        "diffusion, Rombach et al. 2022), decoded to counts by its decoder; optionally per cell type",
        # the paper's linear schedule over 1,000 steps and its noise-prediction loss; an MLP denoiser, as latents
        # of 10 dimensions have no spatial structure for the paper's U-Net (docs/architectures.md)
        {
            "n_steps": 1000,
            "beta_start": 1e-4,
            "beta_end": 0.02,
            "n_hidden": 256,
            "n_layers": 3,
            "conditional": False,
            "library_size": 20000.0,  # the scale its cells are compared on: scGAN's
            **NEURAL_TRAINING,
            "batch_size": 256,
            "max_epochs": 1000,
            "patience": 100,
        },
    ),
    family(module="lifedl.models.scgen", task="perturbation")(
        "scgen",
        "VAE + latent vector arithmetic: a held-out cell type's response to a stimulus (Lotfollahi et al. 2019)",
        # NB likelihood, one 256-unit layer, latent 20 where the paper has MSE, 800-800, 100 (docs/architectures.md)
        {
            "n_latent": 20,
            "n_hidden": 256,
            "n_layers": 1,
            "dropout": 0.2,
            "likelihood": "nb",
            "learning_rate": 1e-3,
            "weight_decay": 1e-6,
            "batch_size": 128,
            "max_epochs": 100,
            "patience": 25,
            "kl_warmup_epochs": 0,
        },
        # its baselines are rows of its own table (no change; the other types' average response), not PCA
        baseline="",
        needs=("labels", "condition", "control", "heldout"),
    ),
)
