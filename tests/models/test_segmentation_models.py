"""The segmenters through lifedl.fit: the baseline's choices on the validation tiles, the U-Net's nuclei, and
models that come back from their checkpoints with the same nuclei."""

import numpy as np
import pytest
from fast_training import fit

from lifedl.data.images import tiles_from_images


@pytest.fixture(scope="module")
def tiles():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:256, :256]
    mask = np.zeros((256, 256), dtype=np.int32)
    label = 0
    for cy in range(12, 256, 26):
        for cx in range(12, 256, 26):
            label += 1
            radius = rng.integers(5, 9)
            mask[((yy - cy - rng.integers(-3, 4)) ** 2 + (xx - cx) ** 2 <= radius**2) & (mask == 0)] = label
    brightness = np.r_[0, rng.uniform(0.3, 1.0, label)]  # nuclei of uneven brightness, as in real images
    image = (brightness[mask] * 1000 + rng.normal(0, 60, mask.shape)).astype(np.float32)
    return tiles_from_images([image], [mask], ["drawn"], "drawn nuclei", tile=32)


def test_the_baseline_chooses_on_the_validation_tiles_and_finds_drawn_nuclei(tiles, tmp_path):
    from lifedl.tl.segmentation import segmentation_scores

    model = fit("otsu_watershed", tiles, tmp_path)
    assert model.final_metrics["val_f1_iou50"] > 0.5 and model.scope in ("training", "tile")
    assert model.sigma in model.params["sigmas"] and model.min_distance in model.params["min_distances"]
    masks = model.predict_masks(tiles)
    assert masks.shape == (tiles.n_obs, 32, 32)
    assert segmentation_scores(tiles.obsm["mask"], masks)["f1_iou50"] > 0.5


def test_the_unet_returns_from_its_checkpoint_with_the_same_nuclei(tiles, tmp_path):
    from lifedl.models.base import load_model, save_checkpoint

    model = fit("unet", tiles, tmp_path, max_epochs=3, width=4, depth=2)
    assert model.threshold in model.params["thresholds"] and "val_f1_iou50" in model.final_metrics
    save_checkpoint(model, tmp_path / "unet.ckpt")
    again = load_model(tmp_path / "unet.ckpt")
    np.testing.assert_array_equal(again.predict_masks(tiles[:6]), model.predict_masks(tiles[:6]))
