import numpy as np
import pytest
import torch
from scipy import stats

from lifedl.nn.likelihoods import nb_log_likelihood, nb_log_likelihood_per_cell


@pytest.fixture
def nb_case():
    generator = torch.Generator().manual_seed(0)
    mu = torch.rand(6, 40, generator=generator, dtype=torch.float64) * 20 + 0.01
    theta = torch.rand(40, generator=generator, dtype=torch.float64) * 5 + 0.1
    p = (theta / (theta + mu)).numpy()
    x = torch.from_numpy(stats.nbinom.rvs(theta.expand_as(mu).numpy(), p, random_state=1).astype(np.float64))
    return x, mu, theta


def test_nb_log_likelihood_matches_scipy(nb_case):
    x, mu, theta = nb_case
    expected = stats.nbinom.logpmf(x.numpy(), n=theta.expand_as(mu).numpy(), p=(theta / (theta + mu)).numpy())
    np.testing.assert_allclose(nb_log_likelihood(x, mu, theta).numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("zero_fraction", [0.0, 0.8])
def test_per_cell_version_equals_dense_sum_and_gradient(nb_case, zero_fraction):
    """Both routes of the fast version (dense counts; counts below SPARSE_BELOW_DENSITY non-zero)."""
    from lifedl.nn.likelihoods import SPARSE_BELOW_DENSITY

    x, mu, theta = nb_case
    x = x * (torch.rand(x.shape, generator=torch.Generator().manual_seed(2), dtype=x.dtype) >= zero_fraction)
    density = float((x > 0).double().mean())
    assert (x == 0).any() and (density < SPARSE_BELOW_DENSITY) == (zero_fraction > 0), density
    mu_a, theta_a = mu.clone().requires_grad_(), theta.clone().requires_grad_()
    mu_b, theta_b = mu.clone().requires_grad_(), theta.clone().requires_grad_()
    dense = nb_log_likelihood(x, mu_a, theta_a).sum(-1)
    sparse = nb_log_likelihood_per_cell(x, mu_b, theta_b)
    torch.testing.assert_close(sparse, dense)
    dense.sum().backward()
    sparse.sum().backward()
    torch.testing.assert_close(mu_b.grad, mu_a.grad)
    torch.testing.assert_close(theta_b.grad, theta_a.grad)


def test_sparse_gradient_written_out_matches_autograd_with_given_coordinates(nb_case):
    """SparseNegativeBinomial's hand-written gradient: against torch's own numerical check, and against
    autograd of the dense formula under an upstream gradient that differs by cell, with the coordinates given
    as a CSR batch gives them (a stored zero among them; the last cell all zeros)."""
    import scipy.sparse as sp

    from lifedl.data.batches import stored_coordinates
    from lifedl.nn.likelihoods import SparseNegativeBinomial

    x, mu, theta = nb_case
    x = x * (torch.rand(x.shape, generator=torch.Generator().manual_seed(3), dtype=x.dtype) >= 0.7)
    x[-1] = 0
    matrix = sp.csr_matrix(x.numpy())
    matrix.data[0] = 0.0  # a stored zero: its entry must add nothing
    x = torch.from_numpy(matrix.toarray())
    rows, cols = stored_coordinates(matrix)
    assert x[rows, cols].eq(0).sum() == 1
    weights = torch.linspace(-1.0, 2.0, x.shape[0], dtype=x.dtype)
    mu_a, theta_a = mu.clone().requires_grad_(), theta.clone().requires_grad_()
    mu_b, theta_b = mu.clone().requires_grad_(), theta.clone().requires_grad_()
    dense = nb_log_likelihood(x, mu_a, theta_a).sum(-1)
    given = nb_log_likelihood_per_cell(x, mu_b, theta_b, nonzero=stored_coordinates(matrix))  # as a batch has them
    torch.testing.assert_close(given, dense)
    (dense * weights).sum().backward()
    (given * weights).sum().backward()
    torch.testing.assert_close(mu_b.grad, mu_a.grad)
    torch.testing.assert_close(theta_b.grad, theta_a.grad)
    values = x[rows, cols]
    assert torch.autograd.gradcheck(
        lambda m, t: SparseNegativeBinomial.apply(values, rows, cols, rows * x.shape[1] + cols, m, t),
        (mu.clone().requires_grad_(), theta.clone().requires_grad_()),
    )


def test_all_zero_cell_is_handled():
    x = torch.zeros(2, 5)
    mu = torch.full((2, 5), 2.0)
    theta = torch.full((5,), 3.0)
    expected = torch.from_numpy(stats.nbinom.logpmf(0, 3.0, 3.0 / 5.0) * np.ones(2) * 5).float()
    torch.testing.assert_close(nb_log_likelihood_per_cell(x, mu, theta), expected)


def test_poisson_gaussian_and_zinb_match_scipy(nb_case):
    from lifedl.nn.likelihoods import (
        gaussian_log_likelihood_per_cell,
        poisson_log_likelihood_per_cell,
        zinb_log_likelihood_per_cell,
    )

    x, mu, theta = nb_case
    expected = stats.poisson.logpmf(x.numpy(), mu.numpy()).sum(-1)
    np.testing.assert_allclose(poisson_log_likelihood_per_cell(x, mu).numpy(), expected, rtol=1e-6)

    log_var = torch.linspace(-1, 1, x.shape[1], dtype=torch.float64)
    expected = stats.norm.logpdf(x.numpy(), mu.numpy(), np.exp(0.5 * log_var.numpy())).sum(-1)
    np.testing.assert_allclose(gaussian_log_likelihood_per_cell(x, mu, log_var).numpy(), expected, rtol=1e-6)

    # ZINB: mixture of a point mass at zero (probability pi) and the NB.
    zero_logits = torch.linspace(-2, 2, x.shape[1], dtype=torch.float64).expand_as(x)
    pi = torch.sigmoid(zero_logits).numpy()
    nb = stats.nbinom.pmf(x.numpy(), n=theta.expand_as(mu).numpy(), p=(theta / (theta + mu)).numpy())
    expected = np.log(np.where(x.numpy() == 0, pi + (1 - pi) * nb, (1 - pi) * nb)).sum(-1)
    np.testing.assert_allclose(zinb_log_likelihood_per_cell(x, mu, theta, zero_logits).numpy(), expected, rtol=1e-6)
