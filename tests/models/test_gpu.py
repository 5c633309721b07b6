"""Training on CUDA (skipped without a GPU): the loss falls and the checkpoint loads on CPU."""

import numpy as np
import pytest
import torch
from fast_training import ValidationLosses

import lifedl
from lifedl.models.base import load_model, save_checkpoint

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]


def test_vae_trains_on_cuda_with_mixed_precision_and_loads_on_cpu(small_counts, tmp_path):
    losses = ValidationLosses()
    model = lifedl.fit(
        small_counts,
        "vae",
        work_dir=tmp_path / "work",
        seed=0,
        training={"accelerator": "gpu", "precision": "auto"},
        callbacks=[losses.callback],
        max_epochs=20,
        patience=20,
    )
    assert losses.values[-1] < 0.9 * losses.values[0]
    save_checkpoint(model, tmp_path / "model.ckpt")
    loaded = load_model(tmp_path / "model.ckpt")
    assert next(loaded.network.parameters()).device.type == "cpu"
    np.testing.assert_allclose(loaded.embed(small_counts), model.embed(small_counts))
