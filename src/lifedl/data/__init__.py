"""Data sources (builtin, url, simulated), readers and checksums."""

from lifedl.data.simulate import SimulationParams, simulate_counts
from lifedl.data.sources import load_source
from lifedl.data.spec import DatasetSpec

__all__ = ["DatasetSpec", "SimulationParams", "load_source", "simulate_counts"]
