"""Figures of image data sets: tiles with their nuclei outlined, and each segmenter's nuclei beside the truth."""

from __future__ import annotations

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from lifedl.data.images import IMAGE_KEY, MASK_KEY


def _outlined(ax, image: np.ndarray, mask: np.ndarray, title: str = "") -> None:
    from skimage.segmentation import find_boundaries

    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    edges = np.ma.masked_where(~find_boundaries(mask, mode="outer"), np.ones(mask.shape))
    ax.imshow(edges, cmap="autumn", alpha=0.9, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def image_qc_figures(adata: ad.AnnData, labels: str = "", n_tiles: int = 8) -> tuple[plt.Figure, plt.Figure]:
    """Image QC: the tiles with the most nuclei, their masks outlined, and nuclei per tile and nucleus areas; for
    images with classes and no masks, example images per class and each class's pixel intensities."""
    if MASK_KEY not in adata.obsm:
        return _class_qc_figures(adata, labels)
    images, masks = np.asarray(adata.obsm[IMAGE_KEY]), np.asarray(adata.obsm[MASK_KEY])
    nuclei = masks.reshape(len(masks), -1).max(axis=1)
    shown = np.argsort(-nuclei, kind="stable")[:n_tiles]
    tiles, axes = plt.subplots(1, len(shown), figsize=(1.8 * len(shown), 2.2), squeeze=False)
    for ax, row in zip(axes[0], shown):
        _outlined(ax, images[row, 0], masks[row], f"{adata.obs_names[row]}\n{nuclei[row]} nuclei")
    tiles.suptitle("tiles with the most nuclei, the mask's nuclei outlined", fontsize=9)
    tiles.tight_layout()
    counts, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.hist(nuclei, bins=np.arange(nuclei.max() + 2) - 0.5)
    left.set(xlabel="nuclei in the tile (any part)", ylabel="tiles", title="nuclei per tile")
    areas = np.concatenate([np.bincount(mask.ravel())[1:] for mask in masks])
    right.hist(areas[areas > 0], bins=40)
    right.set(xlabel="pixels", ylabel="nuclei (parts in a tile)", title="nucleus area")
    counts.tight_layout()
    return tiles, counts


def _class_qc_figures(adata: ad.AnnData, labels: str, per_class: int = 6) -> tuple[plt.Figure, plt.Figure]:
    images = np.asarray(adata.obsm[IMAGE_KEY])
    classes = adata.obs[labels].astype(str).to_numpy() if labels else np.full(adata.n_obs, "all")
    names = sorted(set(classes))
    examples, axes = plt.subplots(len(names), per_class, figsize=(1.3 * per_class, 1.4 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        for column, index in enumerate(np.flatnonzero(classes == name)[:per_class]):
            axes[row, column].imshow(images[index, 0], cmap="gray")
        for ax in axes[row]:
            ax.set_axis_off()
        axes[row, 0].set_title(name, fontsize=8, loc="left")
    examples.suptitle("the first images of each class", fontsize=9)
    examples.tight_layout()
    intensity, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    for name in names:
        chosen = images[classes == name].reshape((classes == name).sum(), -1)
        left.hist(chosen.mean(axis=1), bins=30, alpha=0.5, label=f"{name} ({len(chosen)})")
        right.hist(chosen.max(axis=1), bins=30, alpha=0.5, label=name)
    left.set(xlabel="mean pixel intensity", ylabel="images", title="brightness per class")
    right.set(xlabel="brightest pixel", title="peak per class")
    left.legend(fontsize=7)
    intensity.tight_layout()
    return examples, intensity


def segmentation_figure(test: ad.AnnData, predictions: dict[str, np.ndarray], n_tiles: int = 4) -> plt.Figure:
    """Test tiles (those with the most nuclei) in rows: the image, the true nuclei, then each segmenter's, outlined,
    with the tile's F1 of nuclei matched above IoU 0.5."""
    from lifedl.tl.segmentation import segmentation_scores

    images, masks = np.asarray(test.obsm[IMAGE_KEY]), np.asarray(test.obsm[MASK_KEY])
    shown = np.argsort(-masks.reshape(len(masks), -1).max(axis=1), kind="stable")[:n_tiles]
    columns = 2 + len(predictions)
    figure, axes = plt.subplots(len(shown), columns, figsize=(2.2 * columns, 2.3 * len(shown)), squeeze=False)
    for axes_row, row in zip(axes, shown):
        axes_row[0].imshow(images[row, 0], cmap="gray", vmin=0, vmax=1)
        axes_row[0].set_axis_off()
        axes_row[0].set_title(test.obs_names[row], fontsize=8)
        _outlined(axes_row[1], images[row, 0], masks[row], f"truth: {masks[row].max()} nuclei")
        for ax, (arch, predicted) in zip(axes_row[2:], predictions.items()):
            f1 = segmentation_scores([masks[row]], [predicted[row]])["f1_iou50"]
            _outlined(ax, images[row, 0], predicted[row], f"{arch}: {predicted[row].max()} nuclei, F1 {f1:.2f}")
    figure.suptitle("held-out test tiles: nuclei outlined (F1 of nuclei matched above IoU 0.5)", fontsize=9)
    figure.tight_layout()
    return figure


def saliency_figure(images: np.ndarray, attributions: np.ndarray, titles: list[str], arch: str) -> plt.Figure:
    """Images (top row) and where the classifier's logit for the class it predicts comes from (bottom row:
    integrated gradients summed over channels, red for evidence for the class, blue against)."""
    n = len(images)
    figure, axes = plt.subplots(2, n, figsize=(1.7 * n, 3.8), squeeze=False)
    for column in range(n):
        axes[0, column].imshow(images[column, 0], cmap="gray")
        axes[0, column].set_title(titles[column], fontsize=7)
        attribution = attributions[column].sum(axis=0)
        limit = float(np.abs(attribution).max()) or 1.0
        axes[1, column].imshow(attribution, cmap="bwr", vmin=-limit, vmax=limit)
        for ax in axes[:, column]:
            ax.set_axis_off()
    figure.suptitle(f"{arch}: integrated gradients of the predicted class's logit (from a black image)", fontsize=9)
    figure.tight_layout()
    return figure
