"""Data sources (builtin, url, simulated), readers and checksums."""

from lifedl.data.simulate import SimulationParams, simulate_counts
from lifedl.data.sources import DatasetSpec, check_counts, load_source

__all__ = ["DatasetSpec", "SimulationParams", "check_counts", "load_source", "simulate_counts"]
