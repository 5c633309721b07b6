"""Microscopy images as tiles: an AnnData whose rows are tiles cut on a grid without overlap, the pixels in
``obsm['image']`` (tiles x channels x height x width, float32) and, for segmentation, the instance mask of each
tile in ``obsm['mask']`` (tiles x height x width, int32: 0 background, 1.. one nucleus each, renumbered per tile).

Each tile is a row, so the data set's split (``lifedl.data.splits``) assigns whole tiles to train, validation or
test: no pixel is in two splits. The slices of a z-stack show the same nuclei one above the other, so the tiles at
one place of a stack are one unit of the split (``obs['lifedl_split_group']``), whatever their slice.
"""

from __future__ import annotations

import io

import anndata as ad
import numpy as np
import pandas as pd

from lifedl.data.splits import GROUP_KEY
from lifedl.errors import LifedlError

IMAGE_KEY = "image"
MASK_KEY = "mask"
TILE = 64  # pixels per side: a few nuclei of the stardist and napari samples per tile


def read_tiff(data: bytes, where: str) -> np.ndarray:
    """A TIFF file's array (``data``: its bytes); an unreadable file is an error naming it."""
    import tifffile

    try:
        return tifffile.imread(io.BytesIO(data))
    except Exception as error:  # tifffile raises several kinds for a file that is not a TIFF
        raise LifedlError(f"{where}: not a readable TIFF image ({error}); check the path after '#'.") from error


def normalise(image: np.ndarray) -> np.ndarray:
    """Intensities scaled to [0, 1] by the 1st and 99.8th percentiles (as stardist's and cellpose's inputs are), so
    a 16-bit and an 8-bit image of the same cells look alike to a network."""
    low, high = np.percentile(image, [1.0, 99.8])
    return np.clip((image.astype(np.float32) - low) / max(float(high - low), 1e-6), 0.0, 1.0)


def relabel(mask: np.ndarray) -> np.ndarray:
    """Instance labels renumbered 1..n in order of first appearance (0 stays background)."""
    values = np.unique(mask)
    values = values[values != 0]
    lookup = np.zeros(int(mask.max()) + 1 if mask.size else 1, dtype=np.int32)
    lookup[values] = np.arange(1, len(values) + 1, dtype=np.int32)
    return lookup[mask]


def tiles_from_images(
    images: list[np.ndarray], masks: list[np.ndarray], names: list[str], where: str, tile: int = TILE,
    stacks: list[str] | None = None,
) -> ad.AnnData:  # fmt: skip
    """Tiles of ``tile`` x ``tile`` pixels cut on a grid from each 2-D image (and its instance mask), the grid's
    remainder at the right and bottom edges left out. ``names``: each image's name (``obs['image']``); ``stacks``:
    the z-stack each image is a slice of (default: its own name). The tiles at one place of one stack share a
    split (``obs['lifedl_split_group']``): neighbouring slices show the same nuclei."""
    if len(images) != len(masks) or len(images) != len(names):
        raise LifedlError(f"{where}: {len(images)} images, {len(masks)} masks and {len(names)} names; give one each.")
    stacks = list(names) if stacks is None else stacks
    pixels, labels, rows = [], [], []
    for image, mask, name, stack in zip(images, masks, names, stacks, strict=True):
        if image.ndim != 2 or image.shape != mask.shape:
            raise LifedlError(
                f"{where}: image '{name}' is {image.shape} and its mask {mask.shape}; each must be one 2-D plane of "
                "the same size (a volume is given slice by slice)."
            )
        if min(image.shape) < tile:
            raise LifedlError(f"{where}: image '{name}' ({image.shape}) is smaller than one {tile}-pixel tile.")
        scaled = normalise(image)
        for top in range(0, image.shape[0] - tile + 1, tile):
            for left in range(0, image.shape[1] - tile + 1, tile):
                pixels.append(scaled[top : top + tile, left : left + tile])
                labels.append(relabel(mask[top : top + tile, left : left + tile]))
                place = f"{stack}_y{top}_x{left}"
                rows.append({"image": name, "top": top, "left": left, GROUP_KEY: place})
    obs = pd.DataFrame(rows)
    obs.index = [f"{row['image']}_y{row['top']}_x{row['left']}" for row in rows]
    adata = ad.AnnData(np.zeros((len(rows), 0), dtype=np.float32), obs=obs)
    adata.obsm[IMAGE_KEY] = np.stack(pixels)[:, None].astype(np.float32)
    adata.obsm[MASK_KEY] = np.stack(labels).astype(np.int32)
    adata.obs["n_nuclei"] = adata.obsm[MASK_KEY].reshape(len(rows), -1).max(axis=1)
    return adata


def images_from_tiffs(files: list[tuple[str, bytes, bytes]], tile: int = TILE) -> ad.AnnData:
    """Tiles of (where, image TIFF bytes, mask TIFF bytes) pairs: a 2-D image as it is, a volume (z x y x x) slice
    by slice with its unlabelled slices (no nucleus in the mask) left out."""
    images, masks, names, stacks = [], [], [], []
    for number, (where, image_bytes, mask_bytes) in enumerate(files):
        image, mask = read_tiff(image_bytes, where), read_tiff(mask_bytes, f"{where} (mask)")
        if image.shape != mask.shape:
            raise LifedlError(f"{where}: the image is {image.shape} and its mask {mask.shape}; they must match.")
        if image.ndim == 2:
            image, mask = image[None], mask[None]
        if image.ndim != 3:
            raise LifedlError(f"{where}: a {image.ndim}-D image; lifedl reads 2-D images and z-stacks.")
        for z in (z for z in range(len(image)) if mask[z].any()):
            images.append(image[z])
            masks.append(mask[z])
            names.append(f"{number}" if len(image) == 1 else f"{number}z{z}")
            stacks.append(f"{number}")
    if not images:
        raise LifedlError(f"{files[0][0] if files else 'images'}: no slice has a labelled nucleus in its mask.")
    return tiles_from_images(images, masks, names, files[0][0], tile, stacks)
