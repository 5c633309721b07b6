"""Settings and a recorder shared by tests that train models (imported as `fast_training`)."""

from lifedl.models import ARCHITECTURES
from lifedl.models.registry import EPOCHS_DECAY_CELLS, with_epochs

# Settings that train in seconds on small_counts, derived from each registry entry's defaults (a new architecture
# gets them without an entry here): per hyper-parameter name, wherever an architecture has it and never above its
# default; then per task and data kind; validation searches emptied (tests/models/test_uncertainty.py tests them).
SMALL = {
    "max_epochs": 6,
    "patience": 6,
    "n_hidden": 32,
    "n_latent": 4,
    "n_components": 8,
    "n_protein_components": 4,
    "embed_steps": 20,
    "n_members": 3,
}
# cell classifiers: 20 epochs at a 1e-2 rate on 10 components reach the accuracy their tests ask for
BY_TASK = {("classifier", "cells"): {"max_epochs": 20, "patience": 20, "n_components": 10, "learning_rate": 1e-2}}
# what a name does not say: the DGD's decoder depth and mixture, the GAN's layer lists (its 128-dim noise: 16)
EXCEPTIONS = {
    "dgd": {"max_epochs": 8, "patience": 8, "n_layers": 2, "n_components": 4},
    "scgan": {
        "max_epochs": 4,
        "n_latent": 16,
        "generator_layers": [32, 64],
        "critic_layers": [64, 32],
        "batch_size": 64,
    },
}


def fast_params(name: str) -> dict:
    """An architecture's fast settings, from its registry entry."""
    arch = ARCHITECTURES[name]
    by_task = BY_TASK.get((arch.task, arch.data_kind), {})
    wanted = {**SMALL, **by_task}
    defaults = with_epochs(arch.defaults, EPOCHS_DECAY_CELLS)  # max_epochs auto: its cap
    params = {key: min(value, defaults[key]) for key, value in wanted.items() if key in defaults}
    if "learning_rate" in by_task and "learning_rate" in arch.defaults:  # a faster rate, not a smaller one
        params["learning_rate"] = by_task["learning_rate"]
    if arch.defaults.get("search"):
        params["search"] = {}
    return {**params, **EXCEPTIONS.get(name, {})}


FAST_PARAMS = {name: fast_params(name) for name in ARCHITECTURES}


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
