"""QC and preprocessing on AnnData.

``QCParams`` and ``run_qc`` (cells) load scanpy, so they are imported on first use: the count helpers in
``lifedl.pp.counts``, which every training job needs, must not pay for scanpy.
"""

__all__ = ["QCParams", "run_qc"]


def __getattr__(name: str):
    if name in __all__:
        from lifedl.pp import qc

        return getattr(qc, name)
    raise AttributeError(f"module 'lifedl.pp' has no attribute {name!r}")
