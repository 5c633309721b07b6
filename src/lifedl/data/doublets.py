"""Doublets made from real cells: two droplets' worth of counts in one barcode, at a known rate.

As the scrublet (Wolock et al. 2019) and SOLO (Bernstein et al. 2020) papers benchmark, a doublet is the sum of two
cells' counts, so its library size is the sum of theirs. :func:`plant_doublets` makes a data set of them from real
cells: the parents of each doublet are taken out (in a droplet experiment the two cells are not also seen alone),
so ``rate`` is the share of doublets among the cells left. A doublet of two cells of one type (homotypic) looks like
a larger cell of that type, which no expression-based detector can tell; the heterotypic ones are what detectors
find. :func:`sum_pairs` is the one place a doublet's counts are made: the detectors that simulate their own doublets
(lifedl.models.doublets) call it too.
"""

from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

DOUBLET_KEY = "doublet"  # obs column: 'singlet' or 'doublet' (the data set's labels)
KIND_KEY = "doublet_kind"  # obs column: 'singlet', 'heterotypic' or 'homotypic'
SINGLET, DOUBLET = "singlet", "doublet"


@dataclasses.dataclass(frozen=True)
class DoubletParams:
    """``doublets:rate=0.1,types=celltype,seed=0:<source>``: the share of doublets among the cells left, the obs
    column of cell types of the source (homotypic or heterotypic), and the seed of the pairs drawn."""

    rate: float = 0.1
    types: str = ""
    seed: int = 0

    def __post_init__(self):
        if not 0 < self.rate < 0.5:
            raise ValueError(f"rate={self.rate}: the share of doublets must be in (0, 0.5)")


def sum_pairs(counts: sp.spmatrix, first: np.ndarray, second: np.ndarray) -> sp.csr_matrix:
    """The counts of doublets made of rows ``first[i]`` and ``second[i]`` of ``counts``: their sum, entry by entry."""
    counts = sp.csr_matrix(counts)
    return sp.csr_matrix(counts[np.asarray(first)] + counts[np.asarray(second)])


def random_pairs(n_cells: int, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` pairs of two different rows among ``n_cells``, drawn with replacement across pairs (as scrublet and
    SOLO draw their simulated doublets' parents)."""
    first = rng.integers(0, n_cells, n_pairs)
    second = (first + rng.integers(1, n_cells, n_pairs)) % n_cells  # never the first row again
    return first, second


def plant_doublets(adata: ad.AnnData, params: DoubletParams) -> ad.AnnData:
    """``adata``'s cells with doublets planted: ``round(rate * n / (1 + rate))`` pairs of distinct cells are summed
    into doublets and their parents removed, so that doublets are ``rate`` of the cells left. ``obs`` gets
    ``doublet`` (singlet/doublet), ``doublet_kind`` (singlet/heterotypic/homotypic where ``params.types`` names the
    cell types, else singlet/doublet) and, per doublet, its parents' names; the singlets keep their own obs."""
    rng = np.random.default_rng(params.seed)
    n_cells = adata.n_obs
    n_doublets = round(params.rate * n_cells / (1 + params.rate))
    if n_doublets < 1 or 2 * n_doublets >= n_cells:
        raise ValueError(f"{n_cells} cells cannot give doublets at rate {params.rate}")
    parents = rng.permutation(n_cells)[: 2 * n_doublets]
    first, second = parents[:n_doublets], parents[n_doublets:]
    counts = sp.csr_matrix(adata.layers["counts"])
    singlets = np.setdiff1d(np.arange(n_cells), parents)
    names = adata.obs_names.to_numpy()
    obs = adata.obs.iloc[singlets].copy()
    doublet_obs = pd.DataFrame(index=pd.Index([f"doublet-{i}" for i in range(n_doublets)]))
    for column in obs.columns:  # a doublet has no single value of a cell's own annotation: NaN, or "" for names
        numeric = pd.api.types.is_numeric_dtype(obs[column]) and not pd.api.types.is_bool_dtype(obs[column])
        if not numeric:
            obs[column] = obs[column].astype(str)
        doublet_obs[column] = np.nan if numeric else ""
    if params.types:
        types = adata.obs[params.types].astype(str).to_numpy()
        same = types[first] == types[second]
        kinds = np.where(same, "homotypic", "heterotypic")
        doublet_obs[params.types] = [f"{a}+{b}" for a, b in zip(types[first], types[second], strict=True)]
    else:
        kinds = np.full(n_doublets, DOUBLET)
    doublet_obs["parent_a"], doublet_obs["parent_b"] = names[first], names[second]
    obs["parent_a"], obs["parent_b"] = "", ""
    obs[DOUBLET], doublet_obs[DOUBLET] = SINGLET, DOUBLET
    obs[KIND_KEY], doublet_obs[KIND_KEY] = SINGLET, kinds
    order = rng.permutation(len(singlets) + n_doublets)  # doublets spread among the singlets, as in a real sample
    all_counts = sp.vstack([counts[singlets], sum_pairs(counts, first, second)]).tocsr()[order]
    all_obs = pd.concat([obs, doublet_obs])
    all_obs = all_obs.iloc[order]
    for column in all_obs.columns:  # categorical where the values are names (h5ad writes them so)
        if all_obs[column].dtype == object:
            all_obs[column] = pd.Categorical(all_obs[column].astype(str))
    planted = ad.AnnData(X=all_counts.copy(), obs=all_obs, var=adata.var.copy())
    planted.layers["counts"] = all_counts
    planted.uns["doublets"] = {
        "rate": params.rate,
        "n_doublets": n_doublets,
        "n_homotypic": int((kinds == "homotypic").sum()),
        "seed": params.seed,
    }
    return planted
