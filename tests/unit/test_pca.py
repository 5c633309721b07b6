"""ScaledPCA's two routes to the components: the covariance's eigendecomposition where cells are many, the full
SVD otherwise; both must give the same space."""

import numpy as np
from sklearn.decomposition import PCA

from lifedl.pp.pca import ScaledPCA, svd_solver


def test_the_covariance_route_gives_the_full_svds_components_with_their_signs():
    rng = np.random.default_rng(0)
    # correlated features with a spread of variances, as genes are: distinct leading eigenvalues
    features = rng.normal(size=(3000, 40)) @ rng.normal(size=(40, 40)) * rng.uniform(0.2, 3.0, size=40)
    assert svd_solver(*features.shape) == "covariance_eigh" and svd_solver(300, 40) == "full"
    fitted = ScaledPCA.fit(features, 10, max_value=10.0, seed=0)
    scaled = np.minimum((features - fitted.mean) / fitted.std, 10.0)
    full = PCA(n_components=10, svd_solver="full").fit(scaled)
    np.testing.assert_allclose(fitted.components, full.components_, atol=1e-8)
    np.testing.assert_allclose(fitted.explained_variance_ratio, full.explained_variance_ratio_, rtol=1e-10)
    np.testing.assert_allclose(fitted.transform(features), full.transform(scaled), rtol=1e-5, atol=1e-5)
