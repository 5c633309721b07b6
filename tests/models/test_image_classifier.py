"""Seed 004's image classifiers: planted classes of simulated nuclei, the networks' losses fall, a draw is one
network for every image (dropout masks shared, a posterior draw held across chunks), and the HOG baseline."""

import numpy as np
import pytest
import torch
from fast_training import fit

from lifedl.data.images import CELL_CLASSES, CellImageParams, simulate_cell_images
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import add_splits


@pytest.fixture(scope="module")
def images():
    adata = simulate_cell_images(CellImageParams(n_images=240, size=16, seed=2))
    spec = DatasetSpec("cells", kind="images", labels="label")
    adata.uns["lifedl_dataset"] = spec.to_uns()
    add_splits(adata, spec)
    return adata


def test_the_simulation_plants_balanced_classes_and_is_seeded(images):
    counts = images.obs["label"].value_counts()
    assert set(counts.index) == set(CELL_CLASSES) and counts.max() - counts.min() <= 1
    again = simulate_cell_images(CellImageParams(n_images=240, size=16, seed=2))
    np.testing.assert_array_equal(again.obsm["image"], images.obsm["image"])
    assert images.obsm["image"].shape == (240, 1, 16, 16)
    # what the classes differ in: mitotic and apoptotic chromatin is brighter than interphase's, at its brightest
    peak = images.obsm["image"].reshape(240, -1).max(axis=1)
    by_class = {name: peak[(images.obs["label"] == name).to_numpy()].mean() for name in CELL_CLASSES}
    assert by_class["interphase"] < by_class["mitotic"] and by_class["interphase"] < by_class["apoptotic"]


@pytest.mark.parametrize("arch", ["conv2d", "bayes_cnn"])
def test_the_networks_learn_the_planted_classes(images, tmp_path, arch):
    model = fit(arch, images, tmp_path, max_epochs=12, patience=12, learning_rate=3e-3, mc_samples=4)
    test = images[(images.obs["lifedl_split"] == "test").to_numpy()]
    accuracy = (np.asarray(model.classes)[model.predict_proba(test).argmax(1)] == test.obs["label"].astype(str)).mean()
    assert accuracy > 0.6, accuracy  # three classes: chance is a third


def test_a_draw_is_one_network_for_every_image(images, tmp_path):
    from lifedl.models.image_classifier import CHUNK

    for arch in ("conv2d_mc_dropout", "bayes_cnn"):
        model = fit(arch, images, tmp_path / arch, max_epochs=1, mc_samples=3)
        stacked = np.concatenate([images.obsm["image"]] * (CHUNK // 240 + 2))  # more images than one chunk
        draws = model.draws_of_images(stacked, seed=5)
        assert draws.shape == (3, len(stacked), 3)
        np.testing.assert_allclose(draws[:, :240], draws[:, 240:480], rtol=1e-5)  # the same network in every chunk
        assert np.abs(draws[0] - draws[1]).max() > 1e-4  # and another network in the next draw
        np.testing.assert_allclose(model.draws_of_images(stacked, seed=5), draws)  # seeded


def test_temperature_scaling_divides_the_conv2d_networks_logits_without_training_again(images, tmp_path):
    from lifedl.tl.classification import uncertainty_metrics

    conv2d = fit("conv2d", images, tmp_path / "conv2d", max_epochs=6, learning_rate=3e-3)
    scaled = fit("conv2d_temperature", images, tmp_path / "scaled", models={"conv2d": conv2d})
    for name, weights in conv2d.trained.network.state_dict().items():
        torch.testing.assert_close(scaled.trained.network.state_dict()[name], weights)
    validation = images[(images.obs["lifedl_split"] == "validation").to_numpy()]
    truth = validation.obs["label"].astype(str).to_numpy()
    nll = {
        name: uncertainty_metrics(truth, model.predict_proba(validation), model.classes)["nll"]
        for name, model in (("conv2d", conv2d), ("scaled", scaled))
    }
    assert scaled.trained.temperature != 1.0 and conv2d.trained.temperature == 1.0
    assert scaled.final_metrics["temperature"] == scaled.trained.temperature
    assert nll["scaled"] <= nll["conv2d"] + 1e-9  # the temperature minimises the validation NLL (T = 1 included)
    with pytest.raises(Exception, match="conv2d"):  # nothing to scale without the trained network
        fit("conv2d_temperature", images, tmp_path / "alone")


def test_the_hog_baseline_chooses_c_on_validation_and_gives_probabilities(images, tmp_path):
    model = fit("hog_logreg", images, tmp_path)
    assert model.final_metrics["C"] in model.params["C_values"] and model.final_metrics["val_accuracy"] > 0.5
    probabilities = model.predict_proba(images[:10])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_integrated_gradients_sum_to_the_logit_difference(images, tmp_path):
    """Completeness (Sundararajan et al. 2017): a pixel's attributions add up to logit(image) - logit(black)."""
    from lifedl.tl.attribution import integrated_gradients

    model = fit("conv2d", images, tmp_path, max_epochs=2)
    forward = model.logit_function()
    x = np.asarray(images.obsm["image"][:3], dtype=np.float32)
    attributions = integrated_gradients(forward, x, np.array([0, 1, 2]), steps=200)
    with torch.no_grad():
        gap = forward(torch.from_numpy(x)) - forward(torch.zeros_like(torch.from_numpy(x)))
    np.testing.assert_allclose(attributions.reshape(3, -1).sum(1), gap[[0, 1, 2], [0, 1, 2]].numpy(), atol=0.02)
