"""What a rerun of a training job continues from: its ``last.ckpt``, if that can be read.

A checkpoint cut short (a full disk, a node lost mid-write in an older version) or damaged later
used to block the job for good: every rerun said "resuming" and failed reading it. Now it is set
aside and the training starts again from epoch 1, in a new MLflow run that names the one it replaces.
"""

from __future__ import annotations

import time
from pathlib import Path

LAST_CHECKPOINT = "last.ckpt"


def resume_point(work_dir: Path) -> tuple[Path | None, str]:
    """(``work_dir/last.ckpt`` if training can continue from it, else None; why not, if there was one)."""
    import torch

    last = Path(work_dir) / LAST_CHECKPOINT
    if not last.is_file():
        return None, ""
    try:
        torch.load(last, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - any failure to read it means the same: do not resume from it
        aside = last.with_name(f"{LAST_CHECKPOINT}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        last.replace(aside)
        return None, (
            f"{last} could not be read ({type(error).__name__}: {str(error)[:200]}); it was moved to {aside.name} "
            "and training starts again from epoch 1 in a new MLflow run"
        )
    return last, ""
