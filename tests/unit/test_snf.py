"""Similarity network fusion (lifedl.tl.snf) against hand-computed kernels, and on a toy pair of noisy views of
three groups: the fused network tells them apart better than either view."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.cluster import SpectralClustering
from sklearn.metrics import adjusted_rand_score

from lifedl.tl.snf import affinity_matrix, full_kernel, fuse, fused_neighbors, local_kernel


def test_the_kernels_by_hand():
    # 1-D points 0, 1, 3; one neighbour each: mean neighbour distances 1, 1, 2
    weights = affinity_matrix(np.array([[0.0], [1.0], [3.0]]), k=1, mu=0.5)
    # eps(0, 1) = (1 + 1 + 1) / 3, eps(0, 2) = (1 + 2 + 3) / 3, eps(0, 0) = (1 + 1 + 0) / 3; W = N(rho; 0, mu eps)
    assert weights[0, 1] == pytest.approx(norm.pdf(1, scale=0.5 * 1))
    assert weights[0, 2] == pytest.approx(norm.pdf(3, scale=0.5 * 2))
    assert weights[0, 0] == pytest.approx(norm.pdf(0, scale=0.5 * 2 / 3))
    np.testing.assert_allclose(weights, weights.T)
    full = full_kernel(np.array([[1.0, 2, 2], [2, 1, 6], [2, 6, 1]]))
    np.testing.assert_allclose(full, [[0.5, 0.25, 0.25], [0.125, 0.5, 0.375], [0.125, 0.375, 0.5]])
    local = local_kernel(np.array([[1.0, 3, 1], [2, 1, 6], [5, 4, 1]]), k=1).toarray()
    np.testing.assert_allclose(local, [[0, 1, 0], [0, 0, 1], [1, 0, 0]])  # each row's strongest other cell
    two = local_kernel(np.array([[1.0, 3, 1], [2, 1, 6], [5, 4, 1]]), k=2).toarray()
    np.testing.assert_allclose(two[1], [2 / 8, 0, 6 / 8])


def test_fusion_of_two_noisy_views_separates_the_groups_better_than_either():
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], 30)
    centres = [(0, 0), (1.2, 0), (2.4, 0)]  # close groups: each view alone mixes their edges

    def view():
        return np.vstack([rng.normal(centre, 0.5, size=(30, 2)) for centre in centres])

    affinities = [affinity_matrix(view(), k=10) for _ in range(2)]  # the same cells, noise drawn apart
    fused = fuse(affinities, k=10, iterations=20)
    np.testing.assert_allclose(fused, fused.T)
    assert (fused >= 0).all()

    def clusters(matrix):
        return SpectralClustering(3, affinity="precomputed", random_state=0).fit_predict((matrix + matrix.T) / 2)

    def purity(matrix):  # the share of each cell's 10 strongest neighbours in its own group
        index, _ = fused_neighbors(matrix, 11)
        return (truth[index[:, 1:]] == truth[:, None]).mean()

    single = [full_kernel(affinity) for affinity in affinities]
    assert (
        adjusted_rand_score(truth, clusters(fused)) > max(adjusted_rand_score(truth, clusters(s)) for s in single) + 0.1
    )
    assert purity(fused) > max(purity(s) for s in single)
    index, distance = fused_neighbors(fused, k=5)
    assert (index[:, 0] == np.arange(90)).all() and (distance[:, 0] == 0).all()
    assert (np.diff(distance[:, 1:], axis=1) >= 0).all()


def test_one_view_is_not_a_fusion():
    with pytest.raises(ValueError, match="two views"):
        fuse([np.eye(3)])
