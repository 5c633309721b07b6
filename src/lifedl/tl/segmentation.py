"""Nuclei segmentation: the Data Science Bowl 2018's measure, the classical baseline, and instances from a
network's per-pixel classes.

A predicted nucleus matches a true one when their intersection over union is above 0.5, which makes the match
one-to-one (two objects cannot both overlap a third by more than half its union). Over the test tiles, pooled:
precision, recall and F1 of the matched nuclei (the DSB's measure at its first threshold), the mean IoU of the
matched pairs, and the pixel IoU of foreground against background.
"""

from __future__ import annotations

import numpy as np

from lifedl.data.images import relabel

MATCH_IOU = 0.5
IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * step, 2) for step in range(10))  # the Data Science Bowl's 0.5 ... 0.95
# classes of the pixels a segmentation network predicts: the boundary class keeps touching nuclei apart
BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2


def iou_matrix(true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """IoU of every true nucleus (rows, labels 1..n) with every predicted one (columns, 1..m) in one image."""
    n_true, n_predicted = int(true.max()), int(predicted.max())
    if n_true == 0 or n_predicted == 0:
        return np.zeros((n_true, n_predicted))
    joint = np.bincount(
        true.ravel() * (n_predicted + 1) + predicted.ravel(), minlength=(n_true + 1) * (n_predicted + 1)
    )
    overlap = joint.reshape(n_true + 1, n_predicted + 1).astype(float)
    true_area, predicted_area = overlap.sum(axis=1, keepdims=True), overlap.sum(axis=0, keepdims=True)
    union = true_area + predicted_area - overlap
    return (overlap / np.maximum(union, 1))[1:, 1:]


def match_counts(true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """True positives (pairs above ``MATCH_IOU``), false positives, false negatives, the summed IoU of the matched
    pairs and the foreground pixels' intersection and union, in one image (labels: 0 background)."""
    ious = iou_matrix(true, predicted)
    matched = ious > MATCH_IOU
    true_positives = int(matched.sum())
    foreground_true, foreground_predicted = true > 0, predicted > 0
    return {
        "tp": true_positives,
        "fp": int(predicted.max()) - true_positives,
        "fn": int(true.max()) - true_positives,
        "matched_iou_sum": float(ious[matched].sum()),
        "foreground_intersection": int((foreground_true & foreground_predicted).sum()),
        "foreground_union": int((foreground_true | foreground_predicted).sum()),
    }


def segmentation_scores(true_masks, predicted_masks) -> dict[str, float]:
    """The measures of the module's docstring over images (instance masks, pooled: each nucleus counts once)."""
    totals: dict[str, float] = {}
    for true, predicted in zip(true_masks, predicted_masks, strict=True):
        for key, value in match_counts(np.asarray(true), np.asarray(predicted)).items():
            totals[key] = totals.get(key, 0) + value
    tp, fp, fn = totals.get("tp", 0), totals.get("fp", 0), totals.get("fn", 0)
    return {
        "f1_iou50": 2 * tp / max(2 * tp + fp + fn, 1),
        "precision_iou50": tp / max(tp + fp, 1),
        "recall_iou50": tp / max(tp + fn, 1),
        "matched_iou_mean": totals.get("matched_iou_sum", 0.0) / tp if tp else float("nan"),
        "foreground_iou": totals.get("foreground_intersection", 0) / max(totals.get("foreground_union", 0), 1),
        "n_true_nuclei": float(tp + fn),
        "n_predicted_nuclei": float(tp + fp),
    }


def scores_by_threshold(true_masks, predicted_masks, thresholds=IOU_THRESHOLDS) -> list[dict]:
    """Precision, recall and F1 of nuclei matched above each IoU threshold (the Data Science Bowl averaged its
    score over 0.5-0.95), pooled over images: how tightly the found nuclei fit, not only whether they are found."""
    ious = [iou_matrix(np.asarray(t), np.asarray(p)) for t, p in zip(true_masks, predicted_masks, strict=True)]
    n_true, n_predicted = sum(m.shape[0] for m in ious), sum(m.shape[1] for m in ious)
    rows = []
    for threshold in thresholds:
        tp = sum(int((m > threshold).sum()) for m in ious)
        rows.append({
            "iou_threshold": threshold,
            "precision": tp / max(n_predicted, 1),
            "recall": tp / max(n_true, 1),
            "f1": 2 * tp / max(n_true + n_predicted, 1),
        })  # fmt: skip
    return rows


def pixel_classes(mask: np.ndarray) -> np.ndarray:
    """A network's target from an instance mask: background, nucleus interior, and the nucleus's own boundary
    pixels (those next to another label), which separate touching nuclei."""
    from skimage.segmentation import find_boundaries

    classes = np.where(mask > 0, INTERIOR, BACKGROUND).astype(np.int64)
    classes[find_boundaries(mask, mode="inner") & (mask > 0)] = BOUNDARY
    return classes


def instances_from_classes(probabilities: np.ndarray, threshold: float = 0.5, min_size: int = 8) -> np.ndarray:
    """Nuclei from a network's per-pixel class probabilities (classes x height x width): each connected region of
    interior above ``threshold`` (of at least ``min_size`` pixels) seeds one nucleus, grown by watershed over the
    pixels more likely nucleus (interior or boundary) than background."""
    from scipy import ndimage
    from skimage.segmentation import watershed

    interior = probabilities[INTERIOR] > threshold
    seeds, _ = ndimage.label(interior)
    sizes = np.bincount(seeds.ravel())
    seeds[sizes[seeds] < min_size] = 0
    foreground = probabilities[BACKGROUND] < 0.5
    return relabel(watershed(-probabilities[INTERIOR], seeds, mask=foreground | (seeds > 0)))


def otsu_threshold(images) -> float:
    """Otsu's threshold of the pixels of these images together (the baseline's one fitted number)."""
    from skimage.filters import threshold_otsu

    return float(threshold_otsu(np.concatenate([np.asarray(image).ravel() for image in images])))


def otsu_watershed(image: np.ndarray, threshold: float, sigma: float = 1.0, min_distance: int = 4) -> np.ndarray:
    """The classical pipeline scikit-image's gallery teaches: smooth, threshold, split touching nuclei by a
    watershed of the distance to the background from its local maxima (at least ``min_distance`` apart)."""
    from scipy import ndimage
    from skimage.feature import peak_local_max
    from skimage.filters import gaussian
    from skimage.segmentation import watershed

    foreground = gaussian(image, sigma=sigma, preserve_range=True) > threshold
    if not foreground.any():
        return np.zeros(image.shape, dtype=np.int32)
    distance = ndimage.distance_transform_edt(foreground)
    regions, _ = ndimage.label(foreground)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=regions, exclude_border=False)
    markers = np.zeros(image.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return relabel(watershed(-distance, markers, mask=foreground))
