"""QC of sequence data sets: the alphabet and padding checks, and a summary for the report (no HVG, no filters)."""

from __future__ import annotations

import anndata as ad
import numpy as np

from lifedl.data.sequences import DNA, alphabet_name, alphabet_of, check_sequences, confound, sequence_lengths


def sequence_qc(adata: ad.AnnData, spec) -> None:
    """Check the sequences (codes over their alphabet, padding only at the end) and record ``uns['qc']`` with
    the lengths and the confound per class (GC content for DNA, length otherwise)."""
    check_sequences(adata, spec.where)
    alphabet, codes = alphabet_of(adata), np.asarray(adata.X)
    lengths = sequence_lengths(codes, alphabet)
    name, values, _ = confound(codes, alphabet)
    unit = "bp" if alphabet == DNA else "letters"
    size = f"{adata.n_vars} {unit}" if lengths.min() == lengths.max() else f"{lengths.min()}-{lengths.max()} {unit}"
    shown = "GC" if alphabet == DNA else name
    summary = f"{adata.n_obs} {alphabet_name(alphabet)} sequences of {size}, mean {shown} {values.mean():.3f}"
    if spec.labels:
        classes = adata.obs[spec.labels].astype(str).to_numpy()
        summary += " (" + ", ".join(f"{c}: {values[classes == c].mean():.3f}" for c in sorted(set(classes))) + ")"
    adata.uns["qc"] = {"n_rows": adata.n_obs, "length": adata.n_vars, "summary": f"QC checked {summary}."}
    print(f"QC: {summary}", flush=True)
