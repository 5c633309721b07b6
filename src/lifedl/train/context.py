"""What a training run needs besides data and hyper-parameters."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

from lifedl.errors import LifedlError


@dataclasses.dataclass
class TrainingContext:
    """Everything a training run needs besides data, its roles (the dataset spec) and hyper-parameters."""

    seed: int = 0
    work_dir: Path = Path(".")  # for intermediate checkpoints (best/last)
    callbacks: list = dataclasses.field(default_factory=list)  # extra Lightning callbacks
    recorder: object = None  # a lifedl.train.tracking.RunRecorder: per-epoch metrics go to its MLflow run
    label: str = ""  # printed before each progress line, e.g. "pbmc68k_reduced/vae"
    accelerator: str = "auto"  # "auto" picks a GPU when there is one
    devices: int = 1
    precision: str = "auto"  # "auto": bf16-mixed on a GPU, 32-true on CPU
    num_workers: int = 0  # DataLoader workers (host data only)
    source: str = "qc.h5ad"  # the input file, named in error messages
    models: dict = dataclasses.field(default_factory=dict)  # trained models the architecture uses, by name


def seed_everything(seed: int) -> None:
    """Python, NumPy and torch generators: what Lightning's ``seed_everything(seed, workers=True)``
    sets, without importing Lightning (seconds per process)."""
    import os
    import random

    import numpy as np
    import torch

    os.environ["PL_GLOBAL_SEED"] = str(seed)  # read by Lightning to seed DataLoader workers
    os.environ["PL_SEED_WORKERS"] = "1"
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # every device


CONFIG_ACCELERATOR_FIX = (
    "Set training.accelerator to auto or cpu in config/config.yaml, or run the job on a GPU node "
    "(resources.train.gpu with --profile slurm)."
)


def resolve_accelerator(
    accelerator: str, setting: str = "training.accelerator", fix: str = CONFIG_ACCELERATOR_FIX
) -> str:
    """'gpu' or 'cpu' for 'auto'; a GPU asked for where there is none is an error naming ``setting`` (where the
    value came from: the config, or lifedl.fit's ``training``) and ``fix``."""
    import torch

    if accelerator == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise LifedlError(
            f"{setting} is '{accelerator}' but no CUDA device is visible on {socket.gethostname()} "
            f"(torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none: a CPU-only wheel'}). {fix}"
        )
    return "gpu" if accelerator == "cuda" else accelerator


def resolve_precision(precision: str, accelerator: str) -> str:
    if precision != "auto":
        return precision
    return "bf16-mixed" if resolve_accelerator(accelerator) == "gpu" else "32-true"
