"""The denoising diffusion of lifedl.nn.diffusion: the noise schedule, the forward process and one reverse step
against values computed by hand, and a small denoiser that learns a planted two-dimensional distribution."""

import math

import pytest
import torch

from lifedl.nn.diffusion import Denoiser, LatentDiffusion, NoiseSchedule

# three steps with beta = 0.1, 0.2, 0.3: abar = 0.9, 0.9 * 0.8 = 0.72, 0.72 * 0.7 = 0.504
SCHEDULE = NoiseSchedule(3, 0.1, 0.3)


def test_the_schedule_against_hand_computed_values():
    torch.testing.assert_close(SCHEDULE.betas, torch.tensor([0.1, 0.2, 0.3]))
    torch.testing.assert_close(SCHEDULE.alpha_bars, torch.tensor([0.9, 0.72, 0.504]))
    # posterior variance beta_t (1 - abar_{t-1}) / (1 - abar_t); nothing is left to add at the first step
    torch.testing.assert_close(SCHEDULE.posterior_variances, torch.tensor([0.0, 0.2 * 0.1 / 0.28, 0.3 * 0.28 / 0.496]))


def test_the_forward_process_against_a_hand_computed_value():
    noised = SCHEDULE.noised(torch.tensor([[1.0, -2.0]]), torch.tensor([1]), torch.tensor([[0.5, 0.0]]))
    torch.testing.assert_close(noised, torch.tensor([[math.sqrt(0.72) + math.sqrt(0.28) * 0.5, -2 * math.sqrt(0.72)]]))


def test_one_denoising_step_against_a_hand_computed_value():
    step = SCHEDULE.denoising_step(torch.tensor([[1.0]]), 2, torch.tensor([[0.5]]), torch.tensor([[0.2]]))
    mean = (1.0 - 0.3 / math.sqrt(1 - 0.504) * 0.5) / math.sqrt(0.7)
    torch.testing.assert_close(step, torch.tensor([[mean + math.sqrt(0.3 * 0.28 / 0.496) * 0.2]]))
    # at the last step the fresh noise is not added
    last = SCHEDULE.denoising_step(torch.tensor([[1.0]]), 0, torch.tensor([[0.5]]), torch.tensor([[9.0]]))
    torch.testing.assert_close(last, torch.tensor([[(1.0 - 0.1 / math.sqrt(0.1) * 0.5) / math.sqrt(0.9)]]))


def test_the_true_noise_takes_the_first_step_back_to_the_clean_point():
    clean, noise = torch.tensor([[0.3, -1.2]]), torch.tensor([[1.1, 0.4]])
    noisy = SCHEDULE.noised(clean, torch.tensor([0]), noise)
    torch.testing.assert_close(SCHEDULE.denoising_step(noisy, 0, noise, torch.zeros(1, 2)), clean)


def test_a_bad_schedule_is_refused():
    with pytest.raises(ValueError, match="beta_start"):
        NoiseSchedule(10, 0.0, 0.02)


def _planted(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes: N((2, -1), 0.3^2) and N((-2, 1), 0.3^2), the class in the label."""
    labels = torch.randint(0, 2, (n,), generator=generator)
    centres = torch.tensor([[2.0, -1.0], [-2.0, 1.0]])[labels]
    return centres + 0.3 * torch.randn(n, 2, generator=generator), labels


def test_a_conditional_denoiser_learns_a_planted_distribution():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    network = LatentDiffusion(NoiseSchedule(100, 1e-3, 0.1), Denoiser(2, 64, 2, n_classes=2))
    optimiser = torch.optim.Adam(network.parameters(), lr=3e-3)
    held_out = dict(zip(("latent", "label"), _planted(512, generator), strict=True))
    network.eval()
    before = network.loss(held_out)["noise_mse"].item()
    assert network.loss(held_out)["noise_mse"].item() == before  # evaluation draws the same steps and noise
    network.train()
    for _ in range(1500):
        latent, label = _planted(256, generator)
        loss = network.loss({"latent": latent, "label": label})["noise_mse"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    network.eval()
    assert network.loss(held_out)["noise_mse"].item() < 0.5 * before
    drawn = network.sample(400, torch.tensor([0] * 200 + [1] * 200), torch.Generator().manual_seed(1))
    torch.testing.assert_close(drawn[:200].mean(0), torch.tensor([2.0, -1.0]), atol=0.25, rtol=0)
    torch.testing.assert_close(drawn[200:].mean(0), torch.tensor([-2.0, 1.0]), atol=0.25, rtol=0)
    assert 0.15 < drawn[:200].std(0).mean().item() < 0.6  # the spread, neither collapsed nor noise
