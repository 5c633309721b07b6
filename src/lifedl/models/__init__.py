"""Architecture registry: config selects models by these names, and the workflow reads it.

Adding an architecture means one module (``setup(adata, params, spec, seed)`` and ``from_checkpoint(checkpoint)``,
see ``lifedl.models.base``) and one entry in its family's module (``lifedl.models.families``): its default
hyper-parameters, the data kind it reads, its task (which rules follow training), the training plan that trains it,
the baseline it is compared with, what it offers beyond its task and the figures it is drawn in
(``lifedl.figures``). Entries import their module only when used, so reading the registry (Snakemake does it when
parsing the workflow) costs nothing.
"""

from __future__ import annotations

from lifedl.errors import LifedlError
from lifedl.models.families import family_entries
from lifedl.models.registry import CAPABILITIES, PARAM_RANGES, PLANS, Architecture
from lifedl.tl.tasks import TASKS  # what the workflow does after training, per task

ARCHITECTURES: dict[str, Architecture] = {architecture.name: architecture for architecture in family_entries()}
# Run beside every batch-aware architecture on a data set with batches, as PCA runs beside every cell model.
BATCH_BASELINES = ("pca_harmony", "pca_combat")

# scVAE's comparison (the likelihoods rule) trains this architecture once per likelihood on the same cells.
LIKELIHOOD_COMPARISON_ARCH = "vae"


def get_architecture(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        raise LifedlError(
            f"unknown architecture '{name}'; config/config.yaml 'architectures' may list: {sorted(ARCHITECTURES)}."
        )
    return ARCHITECTURES[name]


def default_architectures() -> list[str]:
    """What config 'architectures' means when left out: the entries marked for the default run, in registry order."""
    return [name for name, architecture in ARCHITECTURES.items() if architecture.default_run]


def architectures_of_task(task: str, data_kind: str | None = None) -> list[str]:
    return sorted(
        name
        for name, architecture in ARCHITECTURES.items()
        if architecture.task == task and (data_kind is None or architecture.reads(data_kind))
    )


__all__ = [
    "ARCHITECTURES",
    "BATCH_BASELINES",
    "CAPABILITIES",
    "LIKELIHOOD_COMPARISON_ARCH",
    "PARAM_RANGES",
    "PLANS",
    "TASKS",
    "Architecture",
    "architectures_of_task",
    "default_architectures",
    "get_architecture",
]
