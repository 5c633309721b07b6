"""QC of sequence data sets: the alphabet and length checks, and a summary for the report (no HVG, no filters)."""

from __future__ import annotations

import anndata as ad
import numpy as np

from lifedl.data.sequences import check_sequences, gc_content


def sequence_qc(adata: ad.AnnData, spec) -> None:
    """Check the sequences (one length, only A/C/G/T) and record ``uns['qc']`` with GC content per class."""
    check_sequences(adata, spec.where)
    gc = gc_content(np.asarray(adata.X))
    summary = f"{adata.n_obs} sequences of {adata.n_vars} bp, mean GC {gc.mean():.3f}"
    if spec.labels:
        classes = adata.obs[spec.labels].astype(str).to_numpy()
        summary += " (" + ", ".join(f"{c}: {gc[classes == c].mean():.3f}" for c in sorted(set(classes))) + ")"
    adata.uns["qc"] = {"n_rows": adata.n_obs, "length": adata.n_vars, "summary": f"QC checked {summary}."}
    print(f"QC: {summary}", flush=True)
