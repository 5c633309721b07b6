"""Microscopy images: nuclei segmented by Otsu's threshold and a watershed (the classical baseline) and by a U-Net
(seed 003's convolutions and pooling, Ronneberger et al. 2015)."""

from lifedl.models.registry import family

segmenter = family(module="lifedl.models.segmentation", data_kind="images", task="segmenter")

ENTRIES = (
    segmenter(
        "otsu_watershed",
        "Otsu's threshold (of the training tiles, or of each tile) after Gaussian smoothing, touching nuclei split "
        "by a watershed of the distance to the background; the threshold's scope, the smoothing and the seeds' "
        "distance chosen on the validation tiles",
        {"scopes": ["training", "tile"], "sigmas": [0.5, 1.0, 2.0], "min_distances": [2, 3, 4, 6, 8]},
        plan="none",
        baseline="",
        figures=("segmentation",),
    ),
    segmenter(
        "unet",
        "a U-Net: 3 x 3 convolutions, max-pooling down and transposed convolutions up, the encoder's maps joined at "
        "each scale; a class per pixel (background, nucleus, nucleus boundary), nuclei grown from the interior by "
        "watershed, the seeding probability chosen on the validation tiles",
        {
            "width": 16,
            "depth": 3,
            "dropout": 0.1,
            "boundary_weight": 3.0,
            "min_size": 8,
            "thresholds": [0.3, 0.4, 0.5, 0.6, 0.7],
            "learning_rate": 1e-3,
            "weight_decay": 1e-5,
            "batch_size": 16,
            "max_epochs": 150,
            "patience": 25,
        },
        baseline="otsu_watershed",
        figures=("segmentation",),
    ),
)
