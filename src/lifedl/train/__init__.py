"""Training loop (Lightning), data feeding and MLflow tracking."""
