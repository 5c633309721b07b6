"""What a training run needs besides data and hyper-parameters."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass
class TrainingContext:
    """Everything a training run needs besides data and hyper-parameters."""

    seed: int = 0
    work_dir: Path = Path(".")  # for intermediate checkpoints (best/last)
    callbacks: list = dataclasses.field(default_factory=list)  # Lightning callbacks, e.g. MLflow epoch logging
    accelerator: str = "auto"
