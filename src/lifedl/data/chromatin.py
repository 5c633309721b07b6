"""Single-cell chromatin accessibility (data kind ``peaks``): cells x genomic regions, integer fragment counts in
``layers['counts']`` and ``X``, each region's place in ``var`` (``chrom``, ``start``, ``end``).

No real peaks x cells matrix ships inside a package on the index, so the data set is simulated, with its truth
planted: cell types that each open their own set of regions. The counts are drawn as a sequencing experiment
makes them (a cell's depth times a region's accessibility in its type times the region's own strength, Poisson),
which is not the Bernoulli model with cell and region factors the PeakVI-like VAE fits: the simulation does not
come from the model's family.
"""

from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

REGION_COLUMNS = ("chrom", "start", "end")


@dataclasses.dataclass(frozen=True)
class PeakSimulationParams:
    """``simulated:`` parameters of kind ``peaks`` (:func:`simulate_peaks`)."""

    n_cells: int = 2000
    n_peaks: int = 5000
    n_types: int = 6
    specific_fraction: float = 0.06  # of the regions, the share each type opens on its own
    shared_fraction: float = 0.1  # regions open in every type (promoters of housekeeping genes)
    open_rate: float = 0.25  # expected fragments in an open region of a cell of median depth
    background_rate: float = 0.01  # the same in a closed region (fragments that fall anywhere)
    depth_sd: float = 0.6  # sd of log depth across cells
    seed: int = 0


def simulate_peaks(params: PeakSimulationParams = PeakSimulationParams()) -> ad.AnnData:
    """Fragment counts of cells of ``n_types`` planted types (``obs['cell_type']``); ``var['opened_by']`` names the
    type that opens a region ('shared' for every type, '' for none)."""
    n_specific = round(params.specific_fraction * params.n_peaks)
    n_shared = round(params.shared_fraction * params.n_peaks)
    if params.n_types < 2 or n_specific < 1 or params.n_types * n_specific + n_shared > params.n_peaks:
        raise ValueError(
            f"{params.n_types} types of {n_specific} regions each and {n_shared} shared do not fit in "
            f"{params.n_peaks} regions; lower specific_fraction or shared_fraction, or add regions."
        )
    rng = np.random.default_rng(params.seed)
    regions = rng.permutation(params.n_peaks)
    opened_by = np.full(params.n_peaks, "", dtype=object)
    opened_by[regions[:n_shared]] = "shared"
    rate = np.full((params.n_types, params.n_peaks), params.background_rate)
    rate[:, regions[:n_shared]] = params.open_rate
    for t in range(params.n_types):
        own = regions[n_shared + t * n_specific : n_shared + (t + 1) * n_specific]
        opened_by[own] = f"type_{t}"
        rate[t, own] = params.open_rate
    strength = np.exp(rng.normal(0.0, 0.5, params.n_peaks))  # some regions catch more fragments when open
    cell_type = rng.integers(params.n_types, size=params.n_cells)
    depth = np.exp(rng.normal(0.0, params.depth_sd, params.n_cells))
    counts = rng.poisson(depth[:, None] * rate[cell_type] * strength).astype(np.int32)
    matrix = sp.csr_matrix(counts)
    obs = pd.DataFrame(
        {"cell_type": pd.Categorical([f"type_{t}" for t in cell_type], [f"type_{t}" for t in range(params.n_types)])},
        index=[f"cell{i}" for i in range(params.n_cells)],
    )
    starts = np.arange(params.n_peaks) * 5000 + 1000
    var = pd.DataFrame(
        {"chrom": "chr1", "start": starts, "end": starts + 500, "opened_by": opened_by.astype(str)},
        index=[f"chr1:{s}-{s + 500}" for s in starts],
    )
    adata = ad.AnnData(matrix.copy(), obs=obs, var=var)
    adata.layers["counts"] = matrix
    adata.uns["simulation"] = dataclasses.asdict(params)
    return adata
