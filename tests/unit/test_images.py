"""Microscopy images as tiles: a grid without overlap, masks renumbered per tile, and splits that never put the
same place of a z-stack in two splits."""

import io

import numpy as np
import pytest
import tifffile

from lifedl.data.images import IMAGE_KEY, MASK_KEY, images_from_tiffs, relabel, tiles_from_images
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import GROUP_KEY, SplitParams, add_splits
from lifedl.errors import LifedlError


def _tiff(array) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array)
    return buffer.getvalue()


def test_tiles_cover_the_grid_without_overlap_and_keep_their_nuclei():
    image = np.arange(100 * 70, dtype=np.uint16).reshape(100, 70)
    mask = np.zeros((100, 70), dtype=np.int32)
    mask[5:10, 5:10], mask[40:45, 40:45] = 7, 3  # one nucleus in the first tile, one in the last
    tiles = tiles_from_images([image], [mask], ["a"], "test", tile=32)
    assert tiles.n_obs == 3 * 2  # 100 // 32 rows, 70 // 32 columns; the remainder left out
    assert tiles.obsm[IMAGE_KEY].shape == (6, 1, 32, 32) and tiles.obsm[MASK_KEY].shape == (6, 32, 32)
    corners = set(zip(tiles.obs["top"], tiles.obs["left"], strict=True))
    assert corners == {(top, left) for top in (0, 32, 64) for left in (0, 32)}
    assert list(tiles.obs["n_nuclei"]) == [1, 0, 0, 1, 0, 0]
    assert set(np.unique(tiles.obsm[MASK_KEY][0])) == {0, 1}  # renumbered 1.. within its tile
    assert 0.0 <= tiles.obsm[IMAGE_KEY].min() and tiles.obsm[IMAGE_KEY].max() <= 1.0


def test_relabel_keeps_background_and_numbers_from_one():
    assert relabel(np.array([[0, 9, 9], [4, 0, 4]])).tolist() == [[0, 2, 2], [1, 0, 1]]


def test_a_z_stack_is_split_by_place_never_by_slice():
    rng = np.random.default_rng(0)
    volume = rng.integers(0, 1000, (6, 128, 128)).astype(np.uint16)
    labels = np.zeros((6, 128, 128), dtype=np.uint32)
    labels[1:5, 10:20, 10:20] = 1  # slices 0 and 5 hold no nucleus: left out
    tiles = images_from_tiffs([("stack.tif", _tiff(volume), _tiff(labels))], tile=32)
    assert tiles.n_obs == 4 * 16 and set(tiles.obs["image"]) == {"0z1", "0z2", "0z3", "0z4"}
    add_splits(tiles, DatasetSpec("stack", kind="cells"), SplitParams(test_fraction=0.25, validation_fraction=0.25))
    per_place = tiles.obs.groupby(GROUP_KEY, observed=True)["lifedl_split"].nunique()
    assert len(per_place) == 16 and (per_place == 1).all()  # every place in one split, all its slices with it
    assert set(tiles.obs["lifedl_split"]) == {"train", "validation", "test"}


def test_an_image_and_a_mask_of_different_sizes_are_refused():
    with pytest.raises(LifedlError, match=r"img\.tif: the image is \(64, 64\) and its mask \(32, 32\)"):
        images_from_tiffs([("img.tif", _tiff(np.zeros((64, 64), np.uint16)), _tiff(np.ones((32, 32), np.uint16)))])
    with pytest.raises(LifedlError, match="not a readable TIFF"):
        images_from_tiffs([("img.tif", b"not a tiff", b"")])


def test_image_qc_reads_classes_without_masks_and_refuses_data_without_images():
    import anndata as ad

    from lifedl.data.images import CellImageParams, simulate_cell_images
    from lifedl.pp.images import image_qc

    cells = simulate_cell_images(CellImageParams(n_images=30, size=16))
    image_qc(cells, DatasetSpec("cells", kind="images", labels="label"))
    assert "30 images of 16 x 16 pixels; 10 " in cells.uns["qc"]["summary"]  # ten of each class
    with pytest.raises(LifedlError, match=r"no obsm\['image'\]"):
        image_qc(ad.AnnData(np.zeros((3, 0))), DatasetSpec("x", kind="images"))
