"""The importance-weighted bound against an exact marginal likelihood, and on the count VAE."""

import numpy as np
import torch
from scipy.stats import multivariate_normal

from lifedl.nn.bounds import importance_weighted_bound

torch.manual_seed(0)
W = torch.tensor([[1.0, 0.5], [-0.3, 0.8], [0.7, -1.2]])
B, SIGMA = torch.tensor([0.2, -0.1, 0.4]), 0.5


def linear_gaussian_log_likelihood(x: torch.Tensor):
    """z ~ N(0, I), x | z ~ N(W z + b, sigma^2 I): log p(x | z) for z of shape (k, n, 2)."""

    def log_likelihood(z: torch.Tensor) -> torch.Tensor:
        mean = z @ W.T + B
        return torch.distributions.Normal(mean, SIGMA).log_prob(x).sum(dim=-1)

    return log_likelihood


def test_iwae_approaches_the_exact_marginal_from_below():
    x = torch.tensor([[1.0, 0.5, -0.5], [-1.5, 1.0, 2.0], [0.0, 0.0, 0.0]])
    covariance = (W @ W.T + SIGMA**2 * torch.eye(3)).numpy()
    exact = multivariate_normal(B.numpy(), covariance).logpdf(x.numpy())
    # a deliberately imperfect encoder: the exact posterior's mean, shifted, and a wrong variance
    precision = W.T @ W / SIGMA**2 + torch.eye(2)
    posterior_mean = (torch.linalg.solve(precision, W.T @ (x - B).T / SIGMA**2)).T
    mean, log_var = posterior_mean + 0.3, torch.full_like(posterior_mean, np.log(0.3))
    replicates = 400  # each row repeated: the mean bound over many draws, as its expectation is ordered in K
    repeated = x.repeat(replicates, 1)
    bounds = {}
    for k in (1, 10, 100):
        torch.manual_seed(1)
        value, _ = importance_weighted_bound(
            linear_gaussian_log_likelihood(repeated), mean.repeat(replicates, 1), log_var.repeat(replicates, 1), k
        )
        bounds[k] = value.reshape(replicates, len(x)).mean(dim=0)
    assert torch.all(bounds[1] < bounds[10]) and torch.all(bounds[10] < bounds[100])
    assert torch.all(bounds[100] < torch.as_tensor(exact, dtype=torch.float32))
    torch.manual_seed(2)
    bound, elbo = importance_weighted_bound(linear_gaussian_log_likelihood(x), mean, log_var, 20000, chunk=1000)
    np.testing.assert_allclose(bound.numpy(), exact, atol=0.03)  # K = 20,000: the marginal itself
    assert torch.all(elbo < torch.as_tensor(exact) - 0.5)  # which this encoder leaves far below log p(x)


def test_the_exact_posterior_gives_the_marginal_with_one_sample():
    x = torch.tensor([[0.3, -0.2, 1.0]])
    covariance = (W @ W.T + SIGMA**2 * torch.eye(3)).numpy()
    exact = multivariate_normal(B.numpy(), covariance).logpdf(x.numpy())
    precision = W.T @ W / SIGMA**2 + torch.eye(2)
    mean = (torch.linalg.solve(precision, W.T @ (x - B).T / SIGMA**2)).T
    # the true posterior is a full-covariance Gaussian; with a diagonal q the weights vary, so only the mean
    # log-weight is checked to stay below the marginal and the bound to reach it
    log_var = torch.log(torch.diagonal(torch.linalg.inv(precision)))[None, :]
    bound, elbo = importance_weighted_bound(linear_gaussian_log_likelihood(x), mean, log_var, 2000)
    assert float(elbo) <= exact + 1e-4
    np.testing.assert_allclose(float(bound), exact, atol=0.02)


def test_count_vae_bound_is_above_its_elbo(small_counts):
    from lifedl.models.vae import VAE
    from lifedl.pp.counts import counts_matrix

    torch.manual_seed(0)
    network = VAE(small_counts.n_vars, n_latent=4, n_hidden=16).eval()
    counts = torch.as_tensor(counts_matrix(small_counts)[:20].toarray(), dtype=torch.float32)
    scores = network.importance_weighted_scores({"counts": counts}, n_samples=50)
    iwae, elbo = scores[:, 0], scores[:, 1]
    assert torch.all(torch.isfinite(scores)) and torch.all(iwae >= elbo)
    assert torch.all(iwae < 0)  # a log-probability of integer counts
