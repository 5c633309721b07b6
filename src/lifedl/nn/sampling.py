"""Drawing counts from the count distributions (NumPy, no torch: the simulator uses it too)."""

from __future__ import annotations

import numpy as np


def draw_counts(
    mu: np.ndarray, theta: np.ndarray | None, rng: np.random.Generator, zero_probability: np.ndarray | None = None
) -> np.ndarray:
    """Integer counts drawn from NB(mu, theta) as a Gamma-Poisson mixture (Poisson(mu) where ``theta`` is
    None), with structural zeros at ``zero_probability`` (zinb): what a count decoder generates, and
    what the simulator draws its cells from. ``mu`` may carry leading axes (e.g. draws x cells x genes)."""
    rate = mu if theta is None else rng.gamma(theta, mu / theta)
    counts = rng.poisson(rate).astype(np.int64)
    if zero_probability is not None:
        counts[rng.random(counts.shape) < zero_probability] = 0
    return counts


def sample_library_sizes(n_cells: int, library_sizes) -> np.ndarray:
    """One library size per generated cell, from one number or one per cell; bad values are an error."""
    from lifedl.errors import LifedlError

    sizes = np.asarray(library_sizes, dtype=np.float64)
    if n_cells < 1 or sizes.ndim > 1 or (sizes.ndim == 1 and len(sizes) != n_cells):
        raise LifedlError(
            f"sample needs n_cells >= 1 and one library size or one per cell, got n_cells={n_cells} "
            f"and library_sizes of shape {sizes.shape}."
        )
    if not np.all(np.isfinite(sizes)) or np.any(sizes <= 0):
        raise LifedlError("library_sizes must be positive, finite UMI totals (e.g. the real cells' total counts).")
    return np.broadcast_to(sizes, (n_cells,)).copy()
