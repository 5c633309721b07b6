"""Batch correction by the field's standard simple methods, the baselines of every batch-aware model:
ComBat on expression (Johnson et al. 2007, scanpy's ``sc.pp.combat``) and Harmony on principal components
(Korsunsky et al. 2019, ``harmonypy``, as ``sc.external.pp.harmony_integrate`` runs it).

Both correct the cells they are given jointly: neither leaves a model that maps a new cell alone, so a data set's
cells are corrected together (the labels are never read).
"""

from __future__ import annotations

import contextlib
import io

import anndata as ad
import numpy as np
import pandas as pd


def combat(expression: np.ndarray, batches) -> np.ndarray:
    """Log-normalised expression (cells x genes) with each batch's location and scale removed per gene."""
    import scanpy as sc

    batches = np.asarray(batches).astype(str)
    obs = pd.DataFrame({"batch": batches}, index=pd.RangeIndex(len(batches)).astype(str))
    cells = ad.AnnData(X=np.asarray(expression, dtype=np.float64), obs=obs)
    with contextlib.redirect_stdout(io.StringIO()):  # scanpy prints its progress
        corrected = sc.pp.combat(cells, key="batch", inplace=False)
    return np.asarray(corrected, dtype=np.float32)


def harmony(embedding: np.ndarray, batches, seed: int = 0) -> np.ndarray:
    """Principal components (cells x components) with Harmony's batch correction, same shape."""
    import logging

    import harmonypy

    logging.getLogger("harmonypy").setLevel(logging.WARNING)  # its k-means progress, every call
    meta = pd.DataFrame({"batch": np.asarray(batches).astype(str)})
    n_clusters = min(100, max(2, round(len(meta) / 30)))  # harmonypy's default, at least 2 for a few cells
    with contextlib.redirect_stdout(io.StringIO()):
        result = harmonypy.run_harmony(
            np.asarray(embedding, dtype=np.float64),
            meta,
            ["batch"],
            nclust=n_clusters,
            random_state=seed,
            verbose=False,
        )
    return np.asarray(result.Z_corr.T, dtype=np.float32)
