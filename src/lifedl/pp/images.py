"""QC of image data sets: tiles and masks that belong together, and a summary for the report (no filters)."""

from __future__ import annotations

import anndata as ad
import numpy as np

from lifedl.data.images import IMAGE_KEY, MASK_KEY
from lifedl.errors import LifedlError


def image_qc(adata: ad.AnnData, spec) -> None:
    """Check that every tile has pixels and an instance mask of its size, and record ``uns['qc']``."""
    if IMAGE_KEY not in adata.obsm or MASK_KEY not in adata.obsm:
        raise LifedlError(
            f"{spec.where}: no obsm['{IMAGE_KEY}'] and obsm['{MASK_KEY}']; an images data set holds tiles and "
            "their instance masks (lifedl.data.images)."
        )
    images, masks = np.asarray(adata.obsm[IMAGE_KEY]), np.asarray(adata.obsm[MASK_KEY])
    if images.ndim != 4 or masks.shape != (images.shape[0], *images.shape[2:]):
        raise LifedlError(
            f"{spec.where}: tiles of shape {images.shape} (tiles x channels x height x width) with masks of shape "
            f"{masks.shape} (tiles x height x width); they must agree."
        )
    nuclei = masks.reshape(len(masks), -1).max(axis=1)
    areas = np.concatenate([np.bincount(mask.ravel())[1:] for mask in masks])
    areas = areas[areas > 0]
    summary = (
        f"{adata.n_obs} tiles of {images.shape[-2]} x {images.shape[-1]} pixels from {adata.obs['image'].nunique()} "
        f"image plane(s); {int(nuclei.sum())} nuclei in the tiles (median {np.median(nuclei):g} per tile, "
        f"{int((nuclei == 0).sum())} tiles without one); nucleus area median {np.median(areas):g} pixels"
    )
    adata.uns["qc"] = {"n_rows": adata.n_obs, "summary": f"QC checked {summary}."}
    print(f"QC: {summary}", flush=True)
