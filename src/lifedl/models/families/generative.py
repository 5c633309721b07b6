"""Cells generated or predicted: scGAN / cscGAN and scGen. Why each default is what it is: docs/architectures.md."""

from lifedl.models.registry import family

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
