"""Neighbours, UMAP, Leiden clustering and the metrics every architecture is scored with."""
