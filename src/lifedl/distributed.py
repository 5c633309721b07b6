"""Which training process this is, when one training runs as several (data-parallel, Lightning's DDP).

A training over N devices runs N copies of the training step (Lightning's launcher starts them, or srun or
torchrun does): each reads the data and trains on its share of every batch, and only the first writes anything
(log file, MLflow run, checkpoint, results), so a data-parallel job leaves exactly what a one-process job does.
"""

from __future__ import annotations

import os

# Read in this order, as Lightning's rank_zero_only does: torchrun's global rank, the local rank Lightning's
# launcher gives the processes it starts, srun's task id.
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def process_rank() -> int:
    """This process's rank among a data-parallel training's processes; 0 where it is the only one."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name)
        if value is not None:
            return int(value)
    return 0


def is_first_process() -> bool:
    return process_rank() == 0


def world() -> tuple[int, int]:
    """(rank, number of processes) of the running process group; (0, 1) where there is none."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1
