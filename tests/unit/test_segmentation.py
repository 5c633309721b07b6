"""The segmentation measure on hand-made masks, the pixel classes a network learns, and the classical baseline
on drawn nuclei."""

import numpy as np
import pytest

from lifedl.tl.segmentation import (
    BOUNDARY,
    INTERIOR,
    instances_from_classes,
    iou_matrix,
    otsu_threshold,
    otsu_watershed,
    pixel_classes,
    segmentation_scores,
)


def _square(shape, top, left, side, label, into=None):
    mask = np.zeros(shape, dtype=np.int32) if into is None else into
    mask[top : top + side, left : left + side] = label
    return mask


def test_iou_by_hand():
    true = _square((10, 10), 0, 0, 4, 1)  # 16 pixels
    predicted = _square((10, 10), 0, 0, 2, 1)  # 4 pixels inside it
    predicted = _square((10, 10), 6, 6, 3, 2, predicted)  # 9 pixels, no overlap
    assert iou_matrix(true, predicted) == pytest.approx(np.array([[4 / 16, 0.0]]))


def test_matches_need_more_than_half_the_union_and_count_once():
    true = _square((20, 20), 0, 0, 4, 1)
    true = _square((20, 20), 10, 10, 4, 2, true)
    # nucleus 1 found with a 12-pixel overlap of a 16 + 12 - 12 union (IoU 0.75); nucleus 2 only a quarter found
    # (IoU 0.25: a miss and a false positive); one predicted nucleus where there is none
    predicted = np.zeros((20, 20), dtype=np.int32)
    predicted[0:3, 0:4] = 1
    predicted = _square((20, 20), 10, 10, 2, 2, predicted)
    predicted = _square((20, 20), 16, 0, 3, 3, predicted)
    scores = segmentation_scores([true], [predicted])
    tp, fp, fn = 1, 2, 1
    assert scores["f1_iou50"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert scores["precision_iou50"] == pytest.approx(1 / 3) and scores["recall_iou50"] == pytest.approx(1 / 2)
    assert scores["matched_iou_mean"] == pytest.approx(12 / 16)
    assert scores["foreground_iou"] == pytest.approx((12 + 4) / (32 + 9))
    assert (scores["n_true_nuclei"], scores["n_predicted_nuclei"]) == (2, 3)
    # a perfect prediction, and pooling: each nucleus of each image counts once
    assert segmentation_scores([true, true], [true, true])["f1_iou50"] == 1.0
    assert segmentation_scores([true, true], [true, predicted])["f1_iou50"] == pytest.approx(6 / (6 + 2 + 1))


def test_pixel_classes_keep_touching_nuclei_apart_and_instances_come_back():
    mask = _square((16, 16), 2, 2, 5, 1)
    mask = _square((16, 16), 2, 7, 5, 2, mask)  # touching nucleus 1 on its right
    classes = pixel_classes(mask)
    assert classes[4, 6] == BOUNDARY and classes[4, 7] == BOUNDARY  # the shared edge, on both sides
    assert classes[4, 4] == INTERIOR and classes[0, 0] == 0
    probabilities = np.stack([classes == k for k in range(3)]).astype(float)  # a network that is exactly right
    instances = instances_from_classes(probabilities, min_size=2)
    assert segmentation_scores([mask], [instances])["f1_iou50"] == 1.0  # two nuclei, not one


def test_otsu_and_watershed_split_two_touching_discs():
    yy, xx = np.mgrid[:48, :48]
    true = np.zeros((48, 48), dtype=np.int32)
    true[(yy - 24) ** 2 + (xx - 15) ** 2 <= 81] = 1
    true[(yy - 24) ** 2 + (xx - 32) ** 2 <= 81] = 2  # radius 9 discs whose edges meet
    image = (true > 0) * 0.8 + np.random.default_rng(0).normal(0, 0.05, true.shape)
    labels = otsu_watershed(image, otsu_threshold([image]), sigma=1.0, min_distance=5)
    assert labels.max() == 2 and segmentation_scores([true], [labels])["f1_iou50"] == 1.0
    assert otsu_watershed(np.zeros((8, 8)), 0.5).max() == 0  # nothing above the threshold: no nucleus


def test_scores_fall_as_the_iou_threshold_rises_and_start_at_the_measure():
    from lifedl.tl.segmentation import scores_by_threshold

    true = _square((20, 20), 0, 0, 10, 1)
    predicted = _square((20, 20), 0, 0, 8, 1)  # IoU 0.64: matched up to the 0.6 threshold, not from 0.65
    rows = scores_by_threshold([true], [predicted])
    assert [row["iou_threshold"] for row in rows][:3] == [0.5, 0.55, 0.6] and rows[-1]["iou_threshold"] == 0.95
    assert rows[0]["f1"] == segmentation_scores([true], [predicted])["f1_iou50"] == 1.0
    assert [row["f1"] for row in rows] == [1.0, 1.0, 1.0] + [0.0] * 7
