"""Single-cell chromatin accessibility (data kind ``peaks``): cells x genomic regions, integer fragment counts in
``layers['counts']`` and ``X``, each region's place in ``var`` (``chrom``, ``start``, ``end``).

No real peaks x cells matrix ships inside a package on the index, so the data set is simulated, with its truth
planted: cell types in lineages (as myeloid and lymphoid cells), each lineage opening its set of regions and each
type a smaller set of its own, open more in it than in the other types (graded, as real type-specific peaks are,
not on/off), so sister types differ by few regions. The counts are drawn as a sequencing experiment
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
    n_lineages: int = 2  # types 0..n/2-1 form one lineage, the rest the other (with 2)
    lineage_fraction: float = 0.06  # of the regions, the share each lineage opens in all its types
    specific_fraction: float = 0.02  # of the regions, the share each type opens more than the others do
    leak: float = 0.3  # a type's own regions in the other types: open at this share of the open rate
    shared_fraction: float = 0.1  # regions open in every type (promoters of housekeeping genes)
    open_rate: float = 0.15  # expected fragments in an open region of a cell of median depth
    background_rate: float = 0.01  # the same in a closed region (fragments that fall anywhere)
    depth_sd: float = 0.6  # sd of log depth across cells
    seed: int = 0


def lineage_of(cell_type: np.ndarray, n_types: int, n_lineages: int) -> np.ndarray:
    """The lineage of each type: consecutive types share one (types 0..n/2-1 and n/2..n-1 with 2 lineages)."""
    return np.asarray(cell_type) * n_lineages // n_types


def draw_fragments(
    cell_type: np.ndarray, n_types: int, params: PeakSimulationParams, rng: np.random.Generator,
    same_accessibility: tuple[int, int] | None = None,
) -> tuple[sp.csr_matrix, np.ndarray]:  # fmt: skip
    """Fragment counts (cells x regions) of cells of these types, and what opens each region: 'shared' (every
    type), 'lineage_k' (the types of lineage k), 'type_t' (type t most, the others at ``leak``) or '' (none).
    ``same_accessibility``: a pair of types given one accessibility profile (a pair only the RNA of a multiome
    data set tells apart)."""
    n_specific = round(params.specific_fraction * params.n_peaks)
    n_shared = round(params.shared_fraction * params.n_peaks)
    n_lineage = round(params.lineage_fraction * params.n_peaks) if params.n_lineages > 1 else 0
    if not 1 <= params.n_lineages <= n_types:
        raise ValueError(f"n_lineages={params.n_lineages}: give 1 to n_types ({n_types}).")
    if (
        n_types < 2
        or n_specific < 1
        or n_types * n_specific + params.n_lineages * n_lineage + n_shared > params.n_peaks
    ):
        raise ValueError(
            f"{n_types} types of {n_specific} regions each, {params.n_lineages} lineages of {n_lineage} and "
            f"{n_shared} shared do not fit in {params.n_peaks} regions; lower the fractions, or add regions."
        )
    regions = iter(np.split(rng.permutation(params.n_peaks), np.cumsum(
        [n_shared] + [n_lineage] * params.n_lineages + [n_specific] * n_types
    )))  # fmt: skip
    opened_by = np.full(params.n_peaks, "", dtype=object)
    rate = np.full((n_types, params.n_peaks), params.background_rate)
    shared = next(regions)
    opened_by[shared], rate[:, shared] = "shared", params.open_rate
    lineage = lineage_of(np.arange(n_types), n_types, params.n_lineages)
    for block in range(params.n_lineages):
        regions_of_lineage = next(regions)
        if n_lineage:
            opened_by[regions_of_lineage] = f"lineage_{block}"
            rate[np.ix_(lineage == block, regions_of_lineage)] = params.open_rate
    for t in range(n_types):
        own = next(regions)
        opened_by[own] = f"type_{t}"
        rate[:, own] = np.maximum(rate[:, own], params.background_rate + params.leak * params.open_rate)
        rate[t, own] = params.open_rate
    if same_accessibility is not None:
        first, second = same_accessibility
        rate[second] = rate[first]
        opened_by[opened_by == f"type_{second}"] = ""  # its own regions are open as in the others: it has the first's
    strength = np.exp(rng.normal(0.0, 0.5, params.n_peaks))  # some regions catch more fragments when open
    depth = np.exp(rng.normal(0.0, params.depth_sd, len(cell_type)))
    counts = rng.poisson(depth[:, None] * rate[cell_type] * strength).astype(np.int32)
    return sp.csr_matrix(counts), opened_by.astype(str)


def region_names(n_peaks: int) -> tuple[list[str], pd.DataFrame]:
    """Names and coordinates of simulated regions: 500 bp every 5 kb along one chromosome."""
    starts = np.arange(n_peaks) * 5000 + 1000
    names = [f"chr1:{s}-{s + 500}" for s in starts]
    return names, pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + 500}, index=names)


def simulate_peaks(params: PeakSimulationParams = PeakSimulationParams()) -> ad.AnnData:
    """Fragment counts of cells of ``n_types`` planted types (``obs['cell_type']``, their lineage in
    ``obs['lineage']``); ``var['opened_by']`` names what opens each region (:func:`draw_fragments`)."""
    rng = np.random.default_rng(params.seed)
    cell_type = rng.integers(params.n_types, size=params.n_cells)
    matrix, opened_by = draw_fragments(cell_type, params.n_types, params, rng)
    names = [f"type_{t}" for t in range(params.n_types)]
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical([f"type_{t}" for t in cell_type], names),
            "lineage": pd.Categorical(
                [f"lineage_{k}" for k in lineage_of(cell_type, params.n_types, params.n_lineages)]
            ),
        },
        index=[f"cell{i}" for i in range(params.n_cells)],
    )
    _, var = region_names(params.n_peaks)
    var["opened_by"] = opened_by
    adata = ad.AnnData(matrix.copy(), obs=obs, var=var)
    adata.layers["counts"] = matrix
    adata.uns["simulation"] = dataclasses.asdict(params)
    return adata
