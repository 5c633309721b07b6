"""Figures: QC, embeddings coloured by label and cluster, training curves."""
