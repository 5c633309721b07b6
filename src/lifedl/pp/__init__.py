"""QC and preprocessing on AnnData."""

from lifedl.pp.qc import QCParams, run_qc

__all__ = ["QCParams", "run_qc"]
