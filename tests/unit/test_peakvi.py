"""The PeakVI-like VAE's Bernoulli likelihood against scipy, and its loss falls on tiny accessibility data."""

import numpy as np
import torch
from scipy import stats

from lifedl.data.chromatin import PeakSimulationParams, simulate_peaks
from lifedl.nn.peakvi import PeakVAE, bernoulli_log_likelihood_per_cell


def test_bernoulli_log_likelihood_is_scipys():
    rng = np.random.default_rng(0)
    x, p = rng.integers(0, 2, (5, 7)), rng.uniform(0.05, 0.95, (5, 7))
    expected = stats.bernoulli.logpmf(x, p).sum(axis=1)
    got = bernoulli_log_likelihood_per_cell(torch.tensor(x, dtype=torch.float64), torch.tensor(p))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_the_peak_vae_loss_falls_on_tiny_data():
    torch.manual_seed(0)
    peaks = simulate_peaks(PeakSimulationParams(n_cells=200, n_peaks=300, n_types=3, seed=0))
    counts = torch.tensor(peaks.layers["counts"].toarray(), dtype=torch.float32)
    network = PeakVAE(counts.shape[1], n_latent=4, n_hidden=32)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        optimiser.zero_grad()
        loss = sum(network.loss({"counts": counts}).values())
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert network.embed(counts).shape == (200, 4)
