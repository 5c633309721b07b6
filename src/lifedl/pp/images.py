"""QC of image data sets: tiles and masks that belong together, and a summary for the report (no filters)."""

from __future__ import annotations

import anndata as ad
import numpy as np

from lifedl.data.images import IMAGE_KEY, MASK_KEY
from lifedl.errors import LifedlError


def image_qc(adata: ad.AnnData, spec) -> None:
    """Check that every image has pixels (tiles x channels x height x width) and, for segmentation, an instance
    mask of its size; record ``uns['qc']``."""
    if IMAGE_KEY not in adata.obsm:
        raise LifedlError(
            f"{spec.where}: no obsm['{IMAGE_KEY}']; an images data set holds its images (or tiles) there "
            "(lifedl.data.images), with their instance masks in obsm['mask'] for segmentation."
        )
    images = np.asarray(adata.obsm[IMAGE_KEY])
    if images.ndim != 4:
        raise LifedlError(
            f"{spec.where}: images of shape {images.shape}; lifedl reads images x channels x height x width."
        )
    summary = f"{adata.n_obs} images of {images.shape[-2]} x {images.shape[-1]} pixels"
    if MASK_KEY in adata.obsm:
        masks = np.asarray(adata.obsm[MASK_KEY])
        if masks.shape != (images.shape[0], *images.shape[2:]):
            raise LifedlError(
                f"{spec.where}: images of shape {images.shape} with masks of shape {masks.shape} (tiles x height x "
                "width); they must agree."
            )
        nuclei = masks.reshape(len(masks), -1).max(axis=1)
        areas = np.concatenate([np.bincount(mask.ravel())[1:] for mask in masks])
        summary += (
            f" from {adata.obs['image'].nunique()} image plane(s); {int(nuclei.sum())} nuclei in the tiles (median "
            f"{np.median(nuclei):g} per tile, {int((nuclei == 0).sum())} tiles without one); nucleus area median "
            f"{np.median(areas[areas > 0]):g} pixels"
        )
    if spec.labels and spec.labels in adata.obs:
        counts = adata.obs[spec.labels].astype(str).value_counts()
        summary += "; " + ", ".join(f"{count} {label}" for label, count in counts.items())
    adata.uns["qc"] = {"n_rows": adata.n_obs, "summary": f"QC checked {summary}."}
    print(f"QC: {summary}", flush=True)
