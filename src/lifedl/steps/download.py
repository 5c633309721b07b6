"""The download rule (workflow/rules/download.smk): a sheet row's data as raw.h5ad."""

from __future__ import annotations

from collections.abc import Mapping

from lifedl.io import write_h5ad


def download(
    row: Mapping[str, str], sheet: str, cache_dir: str, output: str, limits: Mapping[str, float] | None = None
) -> None:
    """The sheet's ``row`` as raw.h5ad; ``limits`` is the config's ``download`` block (max_seconds, max_gib) that
    bounds a ``url:`` download (defaults: :class:`lifedl.data.sources.DownloadLimits`)."""
    from lifedl.data import DatasetSpec, load_source
    from lifedl.data.sources import DownloadLimits

    adata = load_source(DatasetSpec.from_row(row, sheet), cache_dir, DownloadLimits.from_config(limits or {}))
    print(
        f"{row['id']}: {adata.n_obs} rows x {adata.n_vars} features ({adata.uns['lifedl_dataset']['kind']})", flush=True
    )
    write_h5ad(adata, output)
