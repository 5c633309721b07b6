"""Architecture registry: config selects models by these names.

Adding an architecture means one module (with ``train(adata, params, context, arch)`` and
``from_checkpoint(checkpoint)``) and one entry here with its default hyper-parameters.
Entries import their module only when used, so reading the registry (Snakemake does
it when parsing the workflow) costs nothing.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

from lifedl.errors import LifedlError


@dataclasses.dataclass(frozen=True)
class Architecture:
    name: str
    module: str
    summary: str
    defaults: Mapping[str, Any]
    # What the workflow does after training: "representation" (embed -> cluster -> evaluate),
    # "generator" (generate cells -> realism measures), "perturbation" (predict a response -> R^2).
    kind: str = "representation"
    # datasets.tsv columns that must be filled for a data set to run this architecture
    needs: tuple[str, ...] = ()

    def resolve_params(self, overrides: Mapping[str, Any] | None, where: str = "config") -> dict[str, Any]:
        """Defaults updated by ``overrides``; an unknown name is an error, not silently ignored."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise LifedlError(
                f"{where}: unknown hyper-parameter(s) {unknown} for architecture '{self.name}'; "
                f"known: {sorted(self.defaults)}."
            )
        for name, value in overrides.items():
            expected = type(self.defaults[name])
            # an int is a valid float; a bool is not a valid int or float
            valid = isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
            valid = valid or (expected is float and isinstance(value, int) and not isinstance(value, bool))
            if not valid:
                raise LifedlError(
                    f"{where}: hyper-parameter '{name}' of '{self.name}' must be a {expected.__name__} "
                    f"(default {self.defaults[name]!r}), got {value!r}."
                )
        return {**self.defaults, **overrides}

    def train(self, adata, params: dict, context):
        """Seed every generator first (weights are initialised before any training loop starts)."""
        from lifedl.train.context import seed_everything

        seed_everything(context.seed)
        return importlib.import_module(self.module).train(adata, params, context, self.name)

    def from_checkpoint(self, checkpoint: dict):
        return importlib.import_module(self.module).from_checkpoint(checkpoint)


_NEURAL_TRAINING = {
    "learning_rate": 1e-3,
    "weight_decay": 1e-6,
    "batch_size": 128,
    "max_epochs": 300,
    "patience": 15,  # epochs without a better validation loss before stopping
    "val_fraction": 0.1,
    "kl_warmup_epochs": 0,
}

# held-out denoising measure: fraction of non-zero entries of held-out cells hidden from the model
_AE_NETWORK = {"n_hidden": 128, "n_layers": 1, "dropout": 0.1, "heldout_mask_fraction": 0.1}
_VAE_NETWORK = {"n_hidden": 128, "n_layers": 1, "dropout": 0.1, "likelihood": "nb"}

ARCHITECTURES: dict[str, Architecture] = {
    architecture.name: architecture
    for architecture in (
        Architecture(
            "pca",
            "lifedl.models.pca",
            "PCA of log-normalised, scaled expression (scanpy recipe); the baseline",
            {"n_components": 50, "target_sum": 1e4, "max_value": 10.0},
        ),
        Architecture(
            "ae",
            "lifedl.models.autoencoder",
            "deterministic autoencoder on log-normalised expression (MSE): the seeds' AE vs PCA",
            {"n_latent": 10, **_AE_NETWORK, **_NEURAL_TRAINING},
        ),
        Architecture(
            "dae",
            "lifedl.models.autoencoder",
            "denoising autoencoder: non-zero counts dropped at rate `corruption`, trained to give back clean values",
            {"n_latent": 10, "corruption": 0.2, **_AE_NETWORK, **_NEURAL_TRAINING},
        ),
        Architecture(
            "vae",
            "lifedl.models.vae",
            "VAE on counts, library-size scaled, likelihood nb/zinb/poisson/gaussian (scVI, scVAE)",
            {"n_latent": 10, **_VAE_NETWORK, **_NEURAL_TRAINING},
        ),
        Architecture(
            "ldvae",
            "lifedl.models.vae",
            "linearly decoded VAE: gene logits = W z + b, W = loadings (Svensson et al. 2020)",
            {"n_latent": 10, **_VAE_NETWORK, **_NEURAL_TRAINING},
        ),
        Architecture(
            "vega",
            "lifedl.models.vae",
            "VAE with a gene-program-masked linear decoder: one latent dimension per program (Seninge et al. 2021)",
            # gmt "": the programs stored with the data set (datasets.tsv 'programs'), else PBMC marker programs.
            {"gmt": "", "min_genes": 3, **_VAE_NETWORK, **_NEURAL_TRAINING},
        ),
    )
}


def get_architecture(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        raise LifedlError(
            f"unknown architecture '{name}'; config/config.yaml 'architectures' may list: {sorted(ARCHITECTURES)}."
        )
    return ARCHITECTURES[name]


def architectures_of_kind(kind: str) -> list[str]:
    return sorted(name for name, architecture in ARCHITECTURES.items() if architecture.kind == kind)


__all__ = ["ARCHITECTURES", "Architecture", "architectures_of_kind", "get_architecture"]
