"""Settings and a recorder shared by tests that train models (imported as `fast_training`)."""

# Per architecture: settings that train in seconds on small_counts (classifiers without their validation search:
# tests/models/test_uncertainty.py tests it).
NO_SEARCH = {"search": {}}
FAST_PARAMS = {
    "pca": {"n_components": 8},
    "pca_combat": {"n_components": 8},
    "pca_harmony": {"n_components": 8},
    "vae": {"max_epochs": 6, "patience": 6, "n_hidden": 32, "n_latent": 4},
    "ldvae": {"max_epochs": 6, "patience": 6, "n_hidden": 32, "n_latent": 4},
    "vega": {"max_epochs": 6, "patience": 6, "n_hidden": 32, "min_genes": 3},
    "ae": {"max_epochs": 6, "patience": 6, "n_hidden": 32, "n_latent": 4},
    "dae": {"max_epochs": 6, "patience": 6, "n_hidden": 32, "n_latent": 4},
    "deep_ae": {"max_epochs": 6, "patience": 6, "n_hidden": 32, "n_latent": 4},
    "dgd": {
        "max_epochs": 8,
        "patience": 8,
        "n_hidden": 32,
        "n_layers": 2,
        "n_latent": 4,
        "n_components": 4,
        "embed_steps": 20,
    },
    "scgan": {
        "max_epochs": 4,
        "n_latent": 16,
        "generator_layers": [32, 64],
        "critic_layers": [64, 32],
        "batch_size": 64,
    },
    "scgen": {"max_epochs": 6, "patience": 6, "n_hidden": 32, "n_latent": 4},
    "pca_protein": {"n_protein_components": 4},
    "pca_concat": {"n_components": 8},
    "wnn": {"n_components": 8, "n_protein_components": 4},
    "concat_ae": {"max_epochs": 6, "patience": 6, "n_hidden": 32, "n_latent": 4},
    "multivae": {"max_epochs": 6, "patience": 6, "n_hidden": 32, "n_latent": 4},
    "mlp": {"max_epochs": 20, "patience": 20, "n_hidden": 32, "n_components": 10, "learning_rate": 1e-2, **NO_SEARCH},
    "mc_dropout": {
        "max_epochs": 20,
        "patience": 20,
        "n_hidden": 32,
        "n_components": 10,
        "learning_rate": 1e-2,
        **NO_SEARCH,
    },
    "bnn": {"max_epochs": 20, "patience": 20, "n_hidden": 32, "n_components": 10, **NO_SEARCH},
    "mlp_temperature": {
        "max_epochs": 20,
        "patience": 20,
        "n_hidden": 32,
        "n_components": 10,
        "learning_rate": 1e-2,
        **NO_SEARCH,
    },
    "mlp_ensemble": {
        "max_epochs": 20,
        "patience": 20,
        "n_hidden": 32,
        "n_components": 10,
        "learning_rate": 1e-2,
        "n_members": 3,
        **NO_SEARCH,
    },
}


class ValidationLosses:
    """A Lightning callback (``.callback``) that records val/loss per epoch in ``.values``."""

    def __init__(self):
        import lightning as L

        values = self.values = []

        class Recorder(L.Callback):
            def on_train_epoch_end(self, trainer, module):
                values.append(float(trainer.callback_metrics["val/loss"]))

        self.callback = Recorder()


def fit(arch, adata, work_dir, *, seed=0, roles=None, callbacks=(), training=None, **overrides):
    """``lifedl.fit`` of ``arch`` with FAST_PARAMS (updated by ``overrides``), intermediate files in ``work_dir``."""
    import lifedl

    return lifedl.fit(
        adata,
        arch,
        work_dir=work_dir,
        seed=seed,
        roles=roles,
        callbacks=list(callbacks),
        training=training,
        **{**FAST_PARAMS[arch], **overrides},
    )
