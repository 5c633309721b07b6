"""Nuclei segmentation (data kind ``images``, task ``segmenter``): a U-Net, and the classical pipeline it must beat,
Otsu's threshold and a watershed of the distance transform.

Both are fitted on the train tiles and make their choices on the validation tiles by the F1 of matched nuclei
(``lifedl.tl.segmentation``): the baseline its smoothing and the distance between watershed seeds, the U-Net the
probability above which a pixel seeds a nucleus. A model's ``predict_masks(adata)`` gives one instance mask per
tile.
"""

from __future__ import annotations

import itertools
from typing import Any

import anndata as ad
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lifedl.data.images import IMAGE_KEY, MASK_KEY
from lifedl.data.splits import TRAIN, VALIDATION, split_of
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel
from lifedl.nn.unet import UNet
from lifedl.tl.segmentation import (
    instances_from_classes,
    otsu_threshold,
    otsu_watershed,
    pixel_classes,
    segmentation_scores,
)


def tile_arrays(adata: ad.AnnData, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The tiles' pixels and instance masks; an error says what an images data set holds."""
    if IMAGE_KEY not in adata.obsm or MASK_KEY not in adata.obsm:
        raise LifedlError(
            f"{where}: no obsm['{IMAGE_KEY}'] and obsm['{MASK_KEY}']; an images data set holds tiles and their "
            "instance masks (lifedl.data.images)."
        )
    return np.asarray(adata.obsm[IMAGE_KEY], dtype=np.float32), np.asarray(adata.obsm[MASK_KEY])


def _validation_f1(predict, images: np.ndarray, masks: np.ndarray) -> float:
    return segmentation_scores(masks, [predict(image) for image in images])["f1_iou50"]


class OtsuWatershedModel(TrainedModel):
    """``scope`` 'training': one Otsu threshold of the training tiles' pixels; 'tile': each tile's own (nuclei of
    uneven brightness across an image, at the cost of a threshold found in a tile of background alone)."""

    def __init__(self, params, threshold: float, sigma: float, min_distance: int, scope: str, final_metrics=None):
        self.arch, self.params = "otsu_watershed", dict(params)
        self.threshold, self.sigma, self.min_distance = float(threshold), float(sigma), int(min_distance)
        self.scope = scope
        self.final_metrics = dict(final_metrics or {})

    def segment(self, image: np.ndarray) -> np.ndarray:
        threshold = otsu_threshold([image[0]]) if self.scope == "tile" else self.threshold
        return otsu_watershed(image[0], threshold, self.sigma, self.min_distance)

    def predict_masks(self, adata: ad.AnnData) -> np.ndarray:
        images, _ = tile_arrays(adata, "the tiles to segment")
        return np.stack([self.segment(image) for image in images])

    def own_state(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "sigma": self.sigma,
            "min_distance": self.min_distance,
            "scope": self.scope,
        }


def _fit_otsu_watershed(images, masks, split, params: dict) -> OtsuWatershedModel:
    """Otsu's threshold of the training tiles' pixels (or of each tile), the smoothing and the seeds' distance:
    the setting with the best F1 on the validation tiles."""
    threshold = otsu_threshold(images[split == TRAIN])
    validation = split == VALIDATION
    scores = {}
    for setting in itertools.product(params["scopes"], params["sigmas"], params["min_distances"]):
        model = OtsuWatershedModel(params, threshold, setting[1], setting[2], setting[0])
        scores[setting] = _validation_f1(model.segment, images[validation], masks[validation])
    scope, sigma, min_distance = max(scores, key=lambda key: (scores[key], key[0] == "training", -key[1], key[2]))
    metrics = {"threshold": threshold, "tile_thresholds": float(scope == "tile"), "sigma": sigma}
    metrics |= {"min_distance": float(min_distance), "val_f1_iou50": scores[(scope, sigma, min_distance)]}
    return OtsuWatershedModel(params, threshold, sigma, min_distance, scope, metrics)


class SegmentationNetwork(nn.Module):
    """The U-Net with its loss: cross-entropy over background, interior and boundary pixels (the boundary weighed
    ``boundary_weight`` times: few pixels, but they keep touching nuclei apart), on tiles flipped and turned by
    quarter turns at random while training (nuclei have no up or left)."""

    def __init__(self, params: dict):
        super().__init__()
        self.body = UNet(1, 3, params["width"], params["depth"], params["dropout"])
        self.register_buffer("class_weights", torch.tensor([1.0, 1.0, float(params["boundary_weight"])]))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        images, classes = batch["image"], batch["classes"]
        if self.training:
            turns = int(torch.randint(4, (1,)))
            images, classes = torch.rot90(images, turns, (-2, -1)), torch.rot90(classes, turns, (-2, -1))
            if bool(torch.randint(2, (1,))):
                images, classes = torch.flip(images, (-1,)), torch.flip(classes, (-1,))
        return {"cross_entropy": F.cross_entropy(self(images), classes, weight=self.class_weights)}


class UNetModel(TrainedModel):
    def __init__(self, arch, network, params, threshold: float = 0.5, final_metrics=None):
        self.arch, self.network, self.params = arch, network.eval(), dict(params)
        self.threshold = float(threshold)
        self.final_metrics = dict(final_metrics or {})

    @torch.no_grad()
    def class_probabilities(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Per tile, class and pixel: the softmax of the network's logits (tiles x 3 x height x width)."""
        self.network.eval()
        device = next(self.network.parameters()).device
        parts = [
            torch.softmax(self.network(torch.from_numpy(images[start : start + batch_size]).to(device)), dim=1).cpu()
            for start in range(0, len(images), batch_size)
        ]
        return torch.cat(parts).numpy()

    def _segment(self, images: np.ndarray, threshold: float) -> list[np.ndarray]:
        return [instances_from_classes(p, threshold, self.params["min_size"]) for p in self.class_probabilities(images)]

    def predict_masks(self, adata: ad.AnnData) -> np.ndarray:
        images, _ = tile_arrays(adata, "the tiles to segment")
        return np.stack(self._segment(images, self.threshold))

    def own_state(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "state_dict": self.network.state_dict()}


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "unet") -> Setup:
    images, masks = tile_arrays(adata, spec.where)
    split = split_of(adata, spec.where)
    if arch == "otsu_watershed":
        return Setup(network=None, arrays={}, finish=lambda result: _fit_otsu_watershed(images, masks, split, params))
    side = 2 ** params["depth"]
    if images.shape[-1] % side or images.shape[-2] % side:
        raise LifedlError(
            f"{spec.where}: tiles of {images.shape[-2:]} pixels; the U-Net of depth {params['depth']} needs sides "
            f"divisible by {side}: set a smaller params.unet.depth or cut tiles of another size."
        )
    with torch.random.fork_rng():  # the initial weights depend on the seed only
        torch.manual_seed(seed)
        network = SegmentationNetwork(params)
    classes = np.stack([pixel_classes(mask) for mask in masks])

    def finish(result: FitResult) -> UNetModel:
        model = UNetModel(arch, network, params, final_metrics=result.metrics)
        validation = np.asarray(result.val_index, dtype=np.int64)
        probabilities = model.class_probabilities(images[validation])
        scores = {
            threshold: segmentation_scores(
                masks[validation], [instances_from_classes(p, threshold, params["min_size"]) for p in probabilities]
            )["f1_iou50"]
            for threshold in params["thresholds"]
        }
        model.threshold = max(scores, key=lambda threshold: (scores[threshold], -abs(threshold - 0.5)))
        model.final_metrics.update({"threshold": model.threshold, "val_f1_iou50": scores[model.threshold]})
        return model

    return Setup(network=network, arrays={"image": images, "classes": classes}, finish=finish, split=split)


def from_checkpoint(checkpoint: dict):
    arch, params = checkpoint["arch"], checkpoint["params"]
    if arch == "otsu_watershed":
        return OtsuWatershedModel(
            params,
            checkpoint["threshold"],
            checkpoint["sigma"],
            checkpoint["min_distance"],
            checkpoint["scope"],
            checkpoint["final_metrics"],
        )
    network = SegmentationNetwork(params)
    network.load_state_dict(checkpoint["state_dict"])
    return UNetModel(arch, network, params, checkpoint["threshold"], checkpoint["final_metrics"])
