"""lifedl: a workflow-managed, reproducible deep-learning analysis for single-cell data."""

__version__ = "0.1.0"
