"""Image classifiers that say how sure they are (data kind ``images`` with labels): seed 004's Conv2D network, its
calibration baseline, MC dropout and a Bayesian CNN, against logistic regression on HOG features.

- ``hog_logreg``: histograms of oriented gradients (Dalal & Triggs 2005, scikit-image) of each image, scaled, and a
  multinomial logistic regression, its C chosen by the validation images' negative log-likelihood. The baseline.
- ``conv2d``: the seed's network: 3 x 3 convolution (32 maps, padded), dropout 0.2, 3 x 3 convolution (32),
  2 x 2 max-pooling, a dense layer of ``n_hidden`` (ReLU), dropout 0.5, the class logits; softmax confidence.
- ``conv2d_temperature``: conv2d's trained network of the same seed (not trained again) with temperature scaling
  fitted on the validation images (Guo et al. 2017).
- ``conv2d_mc_dropout``: the same network; at prediction both dropouts stay on, averaged over ``mc_samples``
  passes (Gal & Ghahramani 2016).
- ``bayes_cnn``: the same architecture with a Gaussian posterior over every weight, fitted by Bayes by backprop
  (ELBO per training image, ``lifedl.nn.bayes``); predictions average ``mc_samples`` networks drawn from it.

A draw (a dropout mask, or a network drawn from the posterior) is the same for every image it predicts, so each
draw is one network whose test accuracy can be counted: the seed's histogram of accuracy over posterior draws.
"""

from __future__ import annotations

from typing import Any

import anndata as ad
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lifedl.data.images import IMAGE_KEY
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import TRAIN, VALIDATION, split_of
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel
from lifedl.nn.bayes import BayesConv2d, BayesLinear, one_draw
from lifedl.tl.classification import temperature_scaled, validation_scores

CHUNK = 256  # images per forward pass at prediction


class ConvClassifier(nn.Module):
    """Seed 004's Conv2D network; with ``bayesian`` every layer holds a posterior over its weights (and no
    dropout). ``forward(images, masks)``: ``masks`` (one per dropout, shared by every image) replace the dropouts."""

    def __init__(self, size: int, n_classes: int, params: dict, bayesian: bool = False, n_fit: int = 1):
        super().__init__()
        prior = params.get("prior_sd", 1.0)
        if bayesian:
            self.conv1, self.conv2 = BayesConv2d(1, 32, 3, 1, prior), BayesConv2d(32, 32, 3, 1, prior)
            self.hidden = BayesLinear(32 * (size // 2) ** 2, params["n_hidden"], prior)
            self.output = BayesLinear(params["n_hidden"], n_classes, prior)
        else:
            self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1)
            self.hidden = nn.Linear(32 * (size // 2) ** 2, params["n_hidden"])
            self.output = nn.Linear(params["n_hidden"], n_classes)
        self.rates = (0.0, 0.0) if bayesian else (0.2, float(params["dropout"]))
        self.bayesian, self.n_fit = bayesian, n_fit

    def forward(self, images: torch.Tensor, masks: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        x = F.relu(self.conv1(images))
        x = x * masks[0] if masks else F.dropout(x, self.rates[0], self.training)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
        x = F.relu(self.hidden(x))
        x = x * masks[1] if masks else F.dropout(x, self.rates[1], self.training)
        return self.output(x)

    def dropout_masks(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One draw of both dropout masks (scaled by 1 / keep), to share across the images of a draw."""
        shapes = ((1, 32, size, size), (1, self.output.in_features))
        return tuple(F.dropout(torch.ones(shape), rate, True) for shape, rate in zip(shapes, self.rates, strict=True))

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        parts = {"cross_entropy": F.cross_entropy(self(batch["image"]), batch["label"])}
        if self.bayesian:  # the ELBO per image: the KL spread over the images the network is fitted to
            layers = (self.conv1, self.conv2, self.hidden, self.output)
            parts["kl"] = sum(layer.kl() for layer in layers) / self.n_fit
        return parts


def image_rows(adata: ad.AnnData, spec: DatasetSpec, arch: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """The images, class codes and split of the rows a classifier may train or tune on, and the classes."""
    if IMAGE_KEY not in adata.obsm:
        raise LifedlError(f"{spec.where}: no obsm['{IMAGE_KEY}']; an images data set holds its pixels there.")
    keep, labels = spec.labelled_training_rows(adata, arch, unit="image")
    classes = sorted(set(labels))
    codes = np.searchsorted(classes, labels)
    images = np.asarray(adata.obsm[IMAGE_KEY], dtype=np.float32)[keep]
    return images, codes, split_of(adata, spec.where)[keep], classes


class ConvClassifierModel(TrainedModel):
    def __init__(self, arch, network, params, classes, size, final_metrics=None, temperature=1.0):
        self.arch, self.network, self.params = arch, network.eval(), dict(params)
        self.classes, self.size = [str(c) for c in classes], int(size)
        self.final_metrics = dict(final_metrics or {})
        self.temperature = float(temperature)  # divides the logits (conv2d_temperature); 1: none

    def _logits(self, images: np.ndarray, masks=None) -> torch.Tensor:
        parts = [self.network(torch.from_numpy(images[i : i + CHUNK]), masks) for i in range(0, len(images), CHUNK)]
        return torch.cat(parts) / self.temperature

    def draws_of_images(self, images: np.ndarray, seed: int = 0) -> np.ndarray:
        """draws x n x classes probabilities: ``mc_samples`` networks (dropout masks or weights drawn, each the
        same for every image), or one deterministic pass where ``mc_samples`` is 0."""
        self.network.eval()
        images = np.asarray(images, dtype=np.float32)
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(seed)
            if self.params["mc_samples"] == 0:
                return torch.softmax(self._logits(images), -1)[None].numpy()
            draws = []
            for _ in range(self.params["mc_samples"]):
                if self.network.bayesian:
                    with one_draw(self.network):
                        draws.append(torch.softmax(self._logits(images), -1))
                else:
                    draws.append(torch.softmax(self._logits(images, self.network.dropout_masks(self.size)), -1))
        return torch.stack(draws).numpy()

    def probability_draws(self, adata: ad.AnnData, seed: int = 0) -> np.ndarray:
        return self.draws_of_images(np.asarray(adata.obsm[IMAGE_KEY], dtype=np.float32), seed)

    def logit_function(self):
        """images (tensor) -> logits of the deterministic network (dropout off; a Bayesian network's posterior
        means), for attributions."""
        self.network.eval()

        def logits(images):
            with one_draw(self.network, at_means=True):  # no Bayesian layer: nothing held
                return self.network(images) / self.temperature

        return logits

    def predict_proba(self, adata: ad.AnnData) -> np.ndarray:
        return self.probability_draws(adata).mean(axis=0)

    def own_state(self) -> dict[str, Any]:
        return {
            "classes": self.classes,
            "size": self.size,
            "state_dict": self.network.state_dict(),
            "temperature": self.temperature,
        }


def hog_features(images: np.ndarray, params: dict) -> np.ndarray:
    """Each image's histogram of oriented gradients (scikit-image): ``orientations`` bins per cell of
    ``hog_cell`` pixels, blocks of 2 x 2 cells normalised (L2-Hys)."""
    from skimage.feature import hog

    cell = (params["hog_cell"],) * 2
    return np.stack(
        [
            hog(image[0], orientations=params["orientations"], pixels_per_cell=cell, cells_per_block=(2, 2))
            for image in images
        ]
    ).astype(np.float32)


class HogModel(TrainedModel):
    def __init__(self, params, classes, mean, scale, coef, intercept, final_metrics=None):
        self.arch, self.params, self.classes = "hog_logreg", dict(params), [str(c) for c in classes]
        self.mean, self.scale = np.asarray(mean), np.asarray(scale)
        self.coef, self.intercept = np.asarray(coef), np.asarray(intercept)
        self.final_metrics = dict(final_metrics or {})

    def _proba(self, images: np.ndarray) -> np.ndarray:
        from scipy.special import softmax

        features = (hog_features(images, self.params) - self.mean) / self.scale
        return softmax(features @ self.coef.T + self.intercept, axis=1)

    def probability_draws(self, adata: ad.AnnData, seed: int = 0) -> np.ndarray:
        return self._proba(np.asarray(adata.obsm[IMAGE_KEY], dtype=np.float32))[None]

    def predict_proba(self, adata: ad.AnnData) -> np.ndarray:
        return self.probability_draws(adata)[0]

    def own_state(self) -> dict[str, Any]:
        return {
            "classes": self.classes,
            "mean": torch.from_numpy(self.mean),
            "scale": torch.from_numpy(self.scale),
            "coef": torch.from_numpy(self.coef),
            "intercept": torch.from_numpy(self.intercept),
        }


def _fit_hog(images, codes, split, classes, params: dict) -> HogModel:
    """C chosen by the validation images' negative log-likelihood, refitted on the training images with it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    features = hog_features(images, params)
    train, validation = split == TRAIN, split == VALIDATION
    mean, scale = features[train].mean(axis=0), features[train].std(axis=0) + 1e-6
    scaled = (features - mean) / scale
    fitted, nll = {}, {}
    for c in params["C_values"]:
        fitted[c] = LogisticRegression(C=c, max_iter=2000).fit(scaled[train], codes[train])
        nll[c] = log_loss(codes[validation], fitted[c].predict_proba(scaled[validation]), labels=range(len(classes)))
    best = min(nll, key=lambda c: (nll[c], c))
    model = HogModel(params, classes, mean, scale, fitted[best].coef_, fitted[best].intercept_)
    probabilities = model._proba(images[validation])
    model.final_metrics = {
        "C": float(best),
        **validation_scores(np.asarray(classes)[codes[validation]], probabilities, classes),
    }
    return model


def setup(
    adata: ad.AnnData, params: dict, spec: DatasetSpec, seed: int, arch: str = "conv2d", models=None
) -> Setup:  # fmt: skip
    images, codes, split, classes = image_rows(adata, spec, arch)
    if arch == "hog_logreg":
        return Setup(network=None, arrays={}, finish=lambda result: _fit_hog(images, codes, split, classes, params))
    if arch == "conv2d_temperature":  # conv2d's network of the same seed, one number added on the validation images

        def scale(result) -> ConvClassifierModel:
            validation = np.flatnonzero(split == VALIDATION)
            with torch.no_grad():
                logits = models["conv2d"]._logits(images[validation]).numpy()
            model = temperature_scaled(models["conv2d"], arch, logits, codes[validation])
            return _with_validation_scores(model, images, codes, validation, seed)

        return Setup(network=None, arrays={}, finish=scale)
    size = images.shape[-1]
    if images.shape[1] != 1 or images.shape[-2] != size or size % 2:
        raise LifedlError(
            f"{spec.where}: images of shape {images.shape[1:]}; {arch} reads one channel, square, even side."
        )
    n_fit = int((split == TRAIN).sum())
    with torch.random.fork_rng():  # the initial weights depend on the seed only
        torch.manual_seed(seed)
        network = ConvClassifier(size, len(classes), params, bayesian=arch == "bayes_cnn", n_fit=n_fit)
    arrays = {"image": images, "label": codes.astype(np.int64)}
    print(f"{arch}: {len(classes)} classes, {n_fit} training images of {size} x {size} pixels", flush=True)

    def finish(result: FitResult) -> ConvClassifierModel:
        model = ConvClassifierModel(arch, network, params, classes, size, result.metrics)
        return _with_validation_scores(model, images, codes, np.asarray(result.val_index, dtype=np.int64), seed)

    return Setup(network=network, arrays=arrays, finish=finish, split=split)


def _with_validation_scores(model, images, codes, validation: np.ndarray, seed: int) -> ConvClassifierModel:
    if len(validation):
        probabilities = model.draws_of_images(images[validation], seed).mean(axis=0)
        truth = np.asarray(model.classes)[codes[validation]]
        model.final_metrics.update(validation_scores(truth, probabilities, model.classes))
    return model


def from_checkpoint(checkpoint: dict):
    arch, params, classes = checkpoint["arch"], checkpoint["params"], checkpoint["classes"]
    if arch == "hog_logreg":
        state = {key: np.asarray(checkpoint[key]) for key in ("mean", "scale", "coef", "intercept")}
        return HogModel(params, classes, **state, final_metrics=checkpoint["final_metrics"])
    network = ConvClassifier(checkpoint["size"], len(classes), params, bayesian=arch == "bayes_cnn")
    network.load_state_dict(checkpoint["state_dict"])
    return ConvClassifierModel(
        arch, network, params, classes, checkpoint["size"], checkpoint["final_metrics"], checkpoint["temperature"]
    )
