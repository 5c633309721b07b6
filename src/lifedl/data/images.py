"""Microscopy images as tiles: an AnnData whose rows are tiles cut on a grid without overlap, the pixels in
``obsm['image']`` (tiles x channels x height x width, float32) and, for segmentation, the instance mask of each
tile in ``obsm['mask']`` (tiles x height x width, int32: 0 background, 1.. one nucleus each, renumbered per tile).

Each tile is a row, so the data set's split (``lifedl.data.splits``) assigns whole tiles to train, validation or
test: no pixel is in two splits. The slices of a z-stack show the same nuclei one above the other, so the tiles at
one place of a stack are one unit of the split (``obs['lifedl_split_group']``), whatever their slice.
"""

from __future__ import annotations

import dataclasses
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
    """Instance labels renumbered 1..n in the order of their values (0 stays background)."""
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


# Seed 004's image classifier, on fluorescence images of single nuclei whose class is planted (no labelled image
# set ships inside a package on the index): what a cell-cycle or drug screen sorts.
CELL_CLASSES = ("interphase", "mitotic", "apoptotic")


@dataclasses.dataclass(frozen=True)
class CellImageParams:
    """``simulated:`` parameters of kind ``images`` (:func:`simulate_cell_images`)."""

    n_images: int = 3000
    size: int = 28  # pixels per side, the seed's input
    noise: float = 0.08  # sd of the pixel noise, on a scale where a nucleus is about 0.6 bright
    blur: float = 1.0  # the widest Gaussian blur (a focus drawn per image up to it)
    seed: int = 0


def _disc(yy, xx, cy, cx, ry, rx, angle) -> np.ndarray:
    """An ellipse's mask, radii ``ry`` x ``rx``, turned by ``angle`` radians."""
    y, x = yy - cy, xx - cx
    u, v = x * np.cos(angle) + y * np.sin(angle), -x * np.sin(angle) + y * np.cos(angle)
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0


def _nucleus(cell_class: str, yy, xx, centre: float, rng: np.random.Generator) -> np.ndarray:
    """One class's nucleus, before blur and noise. interphase: a large round or oval nucleus of even, finely
    textured chromatin; mitotic: chromatin condensed into a bright bar (the metaphase plate) or two (anaphase);
    apoptotic: a few small, very bright fragments, clustered. Each drawn at a random place, angle and size."""
    cy, cx = centre + rng.normal(0, 1.5, 2)
    angle = rng.uniform(0, np.pi)
    image = np.zeros(yy.shape)
    if cell_class == "interphase":
        ry, rx = rng.uniform(6.0, 9.0), rng.uniform(5.0, 8.0)
        texture = 1.0 + 0.25 * rng.standard_normal(yy.shape)
        image += _disc(yy, xx, cy, cx, ry, rx, angle) * rng.uniform(0.4, 0.7) * texture
    elif cell_class == "mitotic":
        length, width = rng.uniform(5.0, 8.0), rng.uniform(1.2, 2.2)
        brightness = rng.uniform(0.8, 1.1)
        if rng.random() < 0.5:  # metaphase: one plate
            image += _disc(yy, xx, cy, cx, width, length, angle) * brightness
        else:  # anaphase: two plates moving apart
            gap = rng.uniform(3.0, 5.0)
            for side in (-1, 1):
                dy, dx = side * gap * np.cos(angle), -side * gap * np.sin(angle)
                image += _disc(yy, xx, cy + dy, cx + dx, width, length, angle) * brightness
    else:
        for _ in range(rng.integers(3, 7)):
            fy, fx = cy + rng.normal(0, 3.0), cx + rng.normal(0, 3.0)
            radius = rng.uniform(1.2, 2.5)
            image += _disc(yy, xx, fy, fx, radius, radius, 0.0) * rng.uniform(0.8, 1.2)
    return image


def simulate_cell_images(params: CellImageParams = CellImageParams()) -> ad.AnnData:
    """Fluorescence images of one nucleus each, classes planted in equal shares (``CELL_CLASSES``), with what a
    microscope adds that says nothing of the class: a dim neighbour's edge at the border in a third of the images,
    brightness, background, focus (blur) and noise. ``obs['label']`` is the class; ``uns['simulation']`` the
    parameters."""
    from scipy import ndimage

    if params.n_images < 3 * len(CELL_CLASSES) or params.size < 16:
        raise ValueError(f"n_images must be at least {3 * len(CELL_CLASSES)} and size at least 16, got {params}.")
    rng = np.random.default_rng(params.seed)
    yy, xx = np.mgrid[: params.size, : params.size].astype(float)
    labels = rng.permutation(np.resize(np.array(CELL_CLASSES), params.n_images))
    images = np.empty((params.n_images, 1, params.size, params.size), dtype=np.float32)
    centre = (params.size - 1) / 2
    for row, cell_class in enumerate(labels):
        image = _nucleus(cell_class, yy, xx, centre, rng)
        if rng.random() < 1 / 3:  # a neighbour's edge entering from a side
            side = rng.uniform(0, 2 * np.pi)
            ny, nx = centre + params.size * 0.7 * np.sin(side), centre + params.size * 0.7 * np.cos(side)
            image += _disc(yy, xx, ny, nx, 8.0, 8.0, 0.0) * rng.uniform(0.2, 0.4)
        image = ndimage.gaussian_filter(image * rng.uniform(0.7, 1.3), rng.uniform(0.3, params.blur))
        image += rng.uniform(0.0, 0.1) + rng.normal(0, params.noise, image.shape)
        images[row, 0] = np.clip(image, 0.0, 1.5)
    obs = pd.DataFrame({"label": pd.Categorical(labels, categories=list(CELL_CLASSES))})
    obs.index = [f"cell{row}" for row in range(params.n_images)]
    adata = ad.AnnData(np.zeros((params.n_images, 0), dtype=np.float32), obs=obs)
    adata.obsm[IMAGE_KEY] = images
    adata.uns["simulation"] = dataclasses.asdict(params)
    return adata
