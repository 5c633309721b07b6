"""QC of chromatin accessibility (kind ``peaks``): cells with too few accessible regions and regions open in too
few cells dropped, then the regions open in the most cells kept (Signac's FindTopFeatures), as counts."""

from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp

from lifedl.errors import LifedlError

MIN_KEPT_FRACTION = 0.1


def peak_qc(adata: ad.AnnData, min_regions: int, min_cells: int, n_top_regions: int, where: str) -> ad.AnnData:
    """``adata`` (cells x regions, counts in ``layers['counts']``) filtered: cells with at least ``min_regions``
    accessible regions, regions accessible in at least ``min_cells`` cells, then the ``n_top_regions`` accessible in
    the most cells. ``obs``: fragments and regions per cell; ``uns['qc']``: what was kept."""
    counts = sp.csr_matrix(adata.layers["counts"])
    regions_per_cell = np.asarray((counts > 0).sum(axis=1)).ravel()
    adata.obs["n_fragments"] = np.asarray(counts.sum(axis=1)).ravel()
    adata.obs["n_regions"] = regions_per_cell
    adata.obs["total_counts"] = adata.obs["n_fragments"]  # the depth the label-free measures read
    cells = regions_per_cell >= min_regions
    if cells.mean() < MIN_KEPT_FRACTION:
        raise LifedlError(
            f"{where}: only {int(cells.sum())} of {adata.n_obs} cells have {min_regions} or more accessible regions; "
            "lower qc.min_genes (regions per cell for kind peaks) in config/config.yaml."
        )
    kept = adata[cells].copy()
    detected = np.asarray((sp.csr_matrix(kept.layers["counts"]) > 0).sum(axis=0)).ravel()
    regions = np.flatnonzero(detected >= min_cells)
    regions = regions[np.argsort(-detected[regions], kind="stable")[:n_top_regions]]
    kept = kept[:, np.sort(regions)].copy()
    kept.var["n_cells"] = detected[np.sort(regions)]
    kept.X = kept.layers["counts"].copy()
    summary = (
        f"{kept.n_obs} of {adata.n_obs} cells with >= {min_regions} accessible regions; {kept.n_vars} of "
        f"{adata.n_vars} regions (open in >= {min_cells} cells, the {n_top_regions} most often open kept); "
        f"{100 * (kept.layers['counts'] > 0).mean():.1f} % of entries accessible"
    )
    kept.uns["qc"] = {"n_rows": kept.n_obs, "summary": f"QC kept {summary}."}
    print(f"QC: {summary}", flush=True)
    return kept
