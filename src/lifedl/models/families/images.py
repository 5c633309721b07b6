"""Microscopy images: nuclei segmented by Otsu's threshold and a watershed (the classical baseline) and by a U-Net
(seed 003's convolutions and pooling, Ronneberger et al. 2015); images classified by seed 004's Conv2D network, with
temperature scaling, MC dropout and as a Bayesian CNN, against logistic regression on HOG features."""

from lifedl.models.registry import NEURAL_TRAINING, family

segmenter = family(module="lifedl.models.segmentation", data_kind="images", task="segmenter")
image_classifier = family(
    module="lifedl.models.image_classifier",
    data_kind="images",
    task="classifier",
    needs=("labels",),
    capabilities=frozenset({"probability_draws"}),
)
# The seed's network (its dense layer 128 wide instead of 512: 28 x 28 images of three classes, on CPUs); Adam with
# early stopping on the validation loss instead of the seed's SGD for 25 epochs
CONV2D = {**NEURAL_TRAINING, "n_hidden": 128, "dropout": 0.5, "mc_samples": 0, "batch_size": 64, "patience": 10}

ENTRIES = (
    segmenter(
        "otsu_watershed",
        "Otsu's threshold (of the training tiles, or of each tile) after Gaussian smoothing, touching nuclei split "
        "by a watershed of the distance to the background; the threshold's scope, the smoothing and the seeds' "
        "distance chosen on the validation tiles",
        {"scopes": ["training", "tile"], "sigmas": [0.5, 1.0, 2.0], "min_distances": [2, 3, 4, 6, 8]},
        plan="none",
        baseline="",
        deterministic=True,
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
    image_classifier(
        "hog_logreg",
        "multinomial logistic regression on histograms of oriented gradients (9 orientations, 4 x 4-pixel cells, "
        "2 x 2-cell blocks), C chosen by the validation images' negative log-likelihood: the baseline",
        {"orientations": 9, "hog_cell": 4, "C_values": [0.01, 0.1, 1.0, 10.0]},
        plan="none",
        baseline="",
        deterministic=True,
        capabilities=frozenset(),  # one deterministic prediction: not in the draws' figure
    ),
    image_classifier(
        "conv2d",
        "seed 004's Conv2D network: 3 x 3 convolution (32), dropout 0.2, 3 x 3 convolution (32), 2 x 2 max-pooling, "
        "a dense layer (ReLU), dropout 0.5, softmax",
        CONV2D,
        baseline="hog_logreg",
        figures=("image_calibration", "image_saliency"),
    ),
    image_classifier(
        "conv2d_temperature",
        "the conv2d network of the same seed (not trained again) with temperature scaling fitted on the validation "
        "images (Guo et al. 2017): the calibration baseline",
        {"mc_samples": 0},  # one deterministic pass; the network and its settings are the trained model's
        plan="none",
        baseline="",
        uses_models=("conv2d",),
    ),
    image_classifier(
        "conv2d_mc_dropout",
        "the conv2d network with both dropouts kept on at prediction, averaged over mc_samples passes (MC dropout)",
        {**CONV2D, "mc_samples": 30},
        baseline="hog_logreg",
        compared_with=("conv2d", "conv2d_temperature"),
    ),
    image_classifier(
        "bayes_cnn",
        "the conv2d architecture with a Gaussian posterior over every weight (Bayes by backprop, no dropout), "
        "mc_samples networks drawn at prediction; seed 004's histogram of accuracy over posterior draws",
        # 60 epochs for time: its KL keeps falling for hundreds more, so the validation loss never stops it, while
        # the validation cross-entropy was lowest by epochs 30-50 (3,000 images, 2 s an epoch on one CPU thread)
        {**CONV2D, "dropout": 0.0, "mc_samples": 30, "prior_sd": 1.0, "max_epochs": 60, "patience": 20},
        baseline="hog_logreg",
        compared_with=("conv2d", "conv2d_temperature"),
    ),
)
