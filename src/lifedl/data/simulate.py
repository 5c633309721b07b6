"""A seeded negative-binomial count simulator with cell types, batches, library-size variation
and, optionally, a perturbation.

Counts are drawn as a Gamma-Poisson mixture (the negative binomial) around
    mu[cell, gene] = library_size[cell] * softmax(base + type_effect + batch_effect + response)[gene],
which is the generative model that the NB VAE assumes, so a simulated data set has a
known truth (cell types, batches, the response to a stimulus) to score models against.

With ``n_conditions=2`` every cell is a control or a stimulated cell (obs 'condition'). The
stimulus multiplies the expected counts of some genes by fold changes shared by all types;
each type silences some of those genes, which then barely move in it on the log-normalised
scale: the type-specific part of the observed response. So a held-out type's response is
neither "no change" nor the other types' average response, but follows from its control
cells and the shared response: scGen's task.

With ``n_proteins > 0`` the cells also carry surface-protein counts (CITE-seq antibody-derived tags,
``obsm['protein_counts']``, data kind ``cells+protein``), drawn as totalVI models them: per protein a
background (ambient antibodies, differing by batch) and, where the cell's type expresses the protein,
a foreground that multiplies the background. Two pairs of types are planted so that only one
modality tells them apart: the last two types have the same RNA profile and differ in protein
(obs ``separated_by`` = 'protein'), the two before them have the same protein profile and differ in
RNA ('rna'); the rest differ in both ('both').
"""

from __future__ import annotations

from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from lifedl.nn.sampling import draw_counts

# How far a cell type turns down the responding genes it silences: e^-4, about 2% of the expression elsewhere.
SILENCING_LOG_FOLD_CHANGE = 4.0


# nb and poisson: the VAE family's own likelihoods (for the likelihood comparison, whose truth they are);
# lognormal_poisson: Poisson counts around a mean with per-entry log-normal noise, overdispersed as UMI counts are
# but of no model's family (no gamma mixing, no zero-inflation): the benchmark simulations use it.
COUNT_MODELS = ("nb", "poisson", "lognormal_poisson")
PROTEIN_COUNT_MODELS = ("mixture", "lognormal")


def true_likelihood(params: SimulationParams | dict) -> str:
    """The likelihood the counts were drawn from, named as the VAE's likelihoods are (nb, zinb, poisson, zip)."""
    values = params if isinstance(params, dict) else params.__dict__
    model = values.get("count_model", "nb")
    if model not in ("nb", "poisson"):
        return ""  # of no likelihood the VAE family has
    if float(values.get("zero_inflation", 0.0)) > 0:
        return "zinb" if model == "nb" else "zip"
    return model


@dataclass(frozen=True)
class SimulationParams:
    n_cells: int = 2000
    n_genes: int = 1000
    n_types: int = 5
    n_batches: int = 1
    mean_library_size: float = 2000.0
    library_size_sd: float = 0.4  # sd of log library size
    de_fraction: float = 0.08  # genes with a cell-type-specific fold change, per type
    de_log_fold_change: float = 1.5
    batch_effect_sd: float = 0.3  # sd of each batch's per-gene log fold change
    dispersion_theta: float = 4.0  # NB inverse dispersion (smaller = noisier)
    # The count model cells are drawn from: "nb" (with dispersion_theta) or "poisson"; zero_inflation > 0 zeroes
    # each entry with that probability on top (zinb or zip): the truth a likelihood comparison is scored against.
    count_model: str = "nb"
    zero_inflation: float = 0.0
    lognormal_sd: float = 0.6  # lognormal_poisson: typical sd of the per-entry log noise (each gene its own)
    # sd of a batch's extra log fold change that differs between cell types (0: one batch effect for all types)
    batch_type_interaction_sd: float = 0.0
    n_mito_genes: int = 13
    seed: int = 0
    # Perturbation. The defaults (one condition) simulate exactly what they did before these fields existed.
    n_conditions: int = 1  # 1: no perturbation; 2: obs 'condition' is 'control' or 'stimulated' (half each)
    response_fraction: float = 0.1  # share of genes whose counts the stimulus changes (same fold change in every type)
    response_log_fold_change: float = 1.5  # mean |log fold change| of a responding gene
    type_specific_fraction: float = 0.3  # share of the responding genes each type silences (barely responds with)
    # CITE-seq surface proteins (0: none). Needs n_types >= 4 for the two planted single-modality pairs.
    n_proteins: int = 0
    protein_background: float = 30.0  # mean ambient (background) count per protein and cell
    protein_foreground_fold: float = 6.0  # typical foreground / background ratio of an expressed protein
    protein_positive_fraction: float = 0.35  # share of (type, protein) pairs where the type expresses the protein
    protein_dispersion_theta: float = 10.0
    # "mixture": totalVI's background/foreground NB mixture (multivae's own family); "lognormal": a continuous
    # log-normal expression level above the background, Poisson-lognormal counts (no model's family)
    protein_count_model: str = "mixture"
    test_fraction: float = 0.0  # > 0: obs 'split' marks this share of cells 'test' (held out from training)
    # Multiome: the chromatin accessibility of the same cells over this many regions (0: none), drawn as
    # lifedl.data.chromatin draws it. Needs n_types >= 4 for the two planted single-modality pairs.
    n_peaks: int = 0


def simulate_counts(params: SimulationParams, chunk_size: int = 20_000, part: int | None = None) -> ad.AnnData:
    """Return an AnnData with integer CSR counts in ``X`` and ``layers['counts']``.

    Cells are generated in chunks so that only one chunk is ever dense in memory. ``part``: one part of a data
    set too large for memory (a shard of ``lifedl.data.shards``): the same genes, cell types and batches as every
    other part of ``params.seed``, its own ``params.n_cells`` cells, named after the part.
    """
    if params.n_cells < 1 or params.n_genes < 1 or params.n_types < 1 or params.n_batches < 1:
        raise ValueError(f"simulation needs at least one cell, gene, type and batch, got {params}")
    if params.n_conditions not in (1, 2):
        raise ValueError(
            f"n_conditions must be 1 (no perturbation) or 2 (control and stimulated), got {params.n_conditions}"
        )
    if (params.n_proteins > 0 or params.n_peaks > 0) and params.n_types < 4:
        raise ValueError(
            f"a simulation with proteins or peaks needs n_types >= 4 (two planted pairs), got {params.n_types}"
        )
    if params.count_model not in COUNT_MODELS:
        raise ValueError(f"count_model must be one of {COUNT_MODELS}, got '{params.count_model}'")
    if params.protein_count_model not in PROTEIN_COUNT_MODELS:
        raise ValueError(
            f"protein_count_model must be one of {PROTEIN_COUNT_MODELS}, got '{params.protein_count_model}'"
        )
    for name in (
        "response_fraction",
        "type_specific_fraction",
        "protein_positive_fraction",
        "test_fraction",
        "zero_inflation",
    ):
        if not 0.0 <= getattr(params, name) <= 1.0:
            raise ValueError(f"{name} must lie between 0 and 1, got {getattr(params, name)}")
    rng = np.random.default_rng(params.seed)
    base = rng.normal(0.0, 1.5, params.n_genes)
    type_effect = np.zeros((params.n_types, params.n_genes))
    n_de = max(1, int(params.de_fraction * params.n_genes))
    for t in range(params.n_types):
        genes = rng.choice(params.n_genes, n_de, replace=False)
        type_effect[t, genes] = rng.choice([-1.0, 1.0], n_de) * rng.normal(params.de_log_fold_change, 0.3, n_de)
    batch_effect = rng.normal(0.0, params.batch_effect_sd, (params.n_batches, params.n_genes))
    if params.n_batches == 1:
        batch_effect[:] = 0.0
    interaction = _batch_type_interaction(params)  # batches x types x genes, zero unless asked for
    if params.n_proteins > 0 or params.n_peaks > 0:  # the second modality's pair: the last type copies the RNA
        type_effect[-1] = type_effect[-2]  # profile of the one before

    if part is not None:  # the gene-level draws above are every part's; the cells are this part's own
        rng = np.random.default_rng([params.seed, 1_000 + part])
    cell_type = rng.integers(params.n_types, size=params.n_cells)
    batch = rng.integers(params.n_batches, size=params.n_cells)
    library_size = np.exp(rng.normal(np.log(params.mean_library_size), params.library_size_sd, params.n_cells))
    perturbed = params.n_conditions == 2
    if perturbed:
        stimulated, response, silencing = _perturbation(params)

    # lognormal_poisson: each gene's own noise sd, from a generator of its own (the other models' draws stay)
    gene_noise_sd = params.lognormal_sd * np.exp(np.random.default_rng([params.seed, 4]).normal(0, 0.3, params.n_genes))
    chunks = []
    for start in range(0, params.n_cells, chunk_size):
        stop = min(start + chunk_size, params.n_cells)
        types, batches = cell_type[start:stop], batch[start:stop]
        logits = base + type_effect[types] + batch_effect[batches] + interaction[batches, types]
        if perturbed:
            logits = logits + silencing[types] + response[types] * stimulated[start:stop, None]
        proportions = np.exp(logits - logits.max(axis=1, keepdims=True))
        proportions /= proportions.sum(axis=1, keepdims=True)
        mu = library_size[start:stop, None] * proportions
        if params.count_model == "lognormal_poisson":
            mu = mu * _lognormal_noise(mu.shape, gene_noise_sd, rng)
        theta = params.dispersion_theta if params.count_model == "nb" else None
        zeros = np.full(mu.shape, params.zero_inflation) if params.zero_inflation > 0 else None
        chunks.append(sp.csr_matrix(draw_counts(mu, theta, rng, zeros).astype(np.int32)))
    counts = sp.vstack(chunks, format="csr")

    n_mito = min(params.n_mito_genes, params.n_genes)
    gene_names = [f"MT-SIM{i + 1}" for i in range(n_mito)] + [
        f"GENE{i + 1:05d}" for i in range(params.n_genes - n_mito)
    ]
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical([f"type_{t}" for t in cell_type]),
            "batch": pd.Categorical([f"batch_{b}" for b in batch]),
        },
        index=[f"cell{i:07d}" if part is None else f"part{part}_cell{i:07d}" for i in range(params.n_cells)],
    )
    if perturbed:
        obs["condition"] = pd.Categorical(np.where(stimulated, "stimulated", "control"), ["control", "stimulated"])
    adata = ad.AnnData(X=counts.copy(), obs=obs, var=pd.DataFrame(index=gene_names))
    adata.layers["counts"] = counts
    if perturbed:
        # The truth a perturbation model is scored against; varm follows the genes that QC keeps.
        adata.var["stimulation_log_fold_change"] = response[0]  # the same in every type
        adata.varm["silenced"] = silencing.T < 0  # genes x types (column t: type_t)
    if params.n_proteins > 0:
        _add_proteins(adata, params, cell_type, batch)
    if params.n_peaks > 0:
        _add_peaks(adata, params, cell_type)
    if params.test_fraction > 0:
        test = np.random.default_rng([params.seed, 3]).random(params.n_cells) < params.test_fraction
        adata.obs["split"] = pd.Categorical(np.where(test, "test", "train"), ["train", "test"])
    adata.uns["simulation"] = {k: v for k, v in params.__dict__.items()}
    # Ground-truth gene programs (each type's up-regulated genes), e.g. for VEGA.
    adata.uns["gene_programs"] = {
        f"type_{t}_up": np.array([gene_names[g] for g in np.flatnonzero(type_effect[t] > 0)], dtype=object)
        for t in range(params.n_types)
    }
    return adata


def _batch_type_interaction(params: SimulationParams) -> np.ndarray:
    """batches x types x genes log fold changes: the part of a batch effect that differs between cell types, so no
    single per-batch shift removes it (zero without batch_type_interaction_sd or with one batch)."""
    shape = (params.n_batches, params.n_types, params.n_genes)
    if params.batch_type_interaction_sd <= 0 or params.n_batches == 1:
        return np.zeros(shape)
    return np.random.default_rng([params.seed, 5]).normal(0.0, params.batch_type_interaction_sd, shape)


def _lognormal_noise(shape: tuple[int, int], gene_sd: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """exp(sd_g * e - sd_g^2 / 2), e ~ N(0, 1) per entry: mean 1, so the expected counts stay those of the mean."""
    return np.exp(gene_sd * rng.standard_normal(shape) - gene_sd**2 / 2)


def _perturbation(params: SimulationParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which cells are stimulated; log fold changes of the stimulus and of each type's silencing (types x genes).

    The stimulus multiplies the expected counts of ``response_fraction`` of the genes by fold changes
    shared by all types. Each type silences ``type_specific_fraction`` of those genes (their expression
    falls to e^-4 of the rest, in control and stimulated cells alike), so on the log-normalised scale
    they barely move in that type: the type-specific part of the observed response. It can be read off a
    type's control cells, but not off the other types' average response. Drawn from a generator of its
    own, so the draws of the base simulation (and so a simulation without perturbation) stay as they were.
    """
    rng = np.random.default_rng([params.seed, 1])
    n_responding = max(1, round(params.response_fraction * params.n_genes))
    responding = rng.choice(params.n_genes, n_responding, replace=False)
    fold_changes = rng.choice([-1.0, 1.0], n_responding) * rng.normal(
        params.response_log_fold_change, 0.3, n_responding
    )
    n_silenced = round(params.type_specific_fraction * n_responding)
    response = np.zeros((params.n_types, params.n_genes))
    silencing = np.zeros((params.n_types, params.n_genes))
    response[:, responding] = fold_changes
    for t in range(params.n_types):
        silencing[t, rng.choice(responding, n_silenced, replace=False)] = -SILENCING_LOG_FOLD_CHANGE
    stimulated = rng.random(params.n_cells) < 0.5
    return stimulated, response, silencing


def _add_proteins(adata: ad.AnnData, params: SimulationParams, cell_type: np.ndarray, batch: np.ndarray) -> None:
    """Surface-protein counts (``obsm['protein_counts']``, cells x proteins) and ``obs['separated_by']``.

    Protein p of a cell in batch b has a background mean ``background[b, p]`` (ambient antibodies); where
    the cell's type expresses p, the cell is in the foreground with probability 0.9 and its mean is the
    background times a fold change of p (totalVI's background/foreground mixture), else it stays at the
    background. Counts are negative binomial around the mean times a per-cell capture efficiency. Drawn
    from a generator of its own, so the RNA counts are those of the same simulation without proteins.
    """
    rng = np.random.default_rng([params.seed, 2])
    n_types, n_proteins = params.n_types, params.n_proteins
    positive = rng.random((n_types, n_proteins)) < params.protein_positive_fraction
    positive[-3] = positive[-4]  # the RNA-only pair: one protein profile
    flipped = rng.choice(n_proteins, min(3, n_proteins), replace=False)
    positive[-1] = positive[-2]  # the protein-only pair (one RNA profile): differs in a few proteins
    positive[-1, flipped] = ~positive[-2, flipped]
    background = params.protein_background * np.exp(rng.normal(0.0, 0.5, n_proteins))
    background = background * np.exp(rng.normal(0.0, 0.3, (params.n_batches, n_proteins)) * (params.n_batches > 1))
    fold = np.exp(rng.normal(np.log(params.protein_foreground_fold), 0.4, n_proteins))
    foreground = positive[cell_type] & (rng.random((params.n_cells, n_proteins)) < 0.9)
    capture = np.exp(rng.normal(0.0, 0.25, params.n_cells))
    if params.protein_count_model == "lognormal":  # a continuous level where expressed, no two-component mixture
        level = np.exp(rng.normal(np.log(fold), 0.6, (params.n_cells, n_proteins)))
        mu = background[batch] * capture[:, None] * (1.0 + positive[cell_type] * level)
        mu = mu * _lognormal_noise(mu.shape, np.full(n_proteins, 0.3), rng)
        counts = draw_counts(mu, None, rng).astype(np.int32)
    else:
        mu = background[batch] * capture[:, None] * np.where(foreground, fold, 1.0)
        counts = draw_counts(mu, params.protein_dispersion_theta, rng).astype(np.int32)
    names = [f"PROT{p + 1:02d}" for p in range(n_proteins)]
    adata.obsm["protein_counts"] = pd.DataFrame(counts, index=adata.obs_names, columns=names)
    groups = np.full(n_types, "both", dtype=object)
    groups[[-4, -3]], groups[[-2, -1]] = "rna", "protein"
    adata.obs["separated_by"] = pd.Categorical(groups[cell_type], ["both", "rna", "protein"])
    adata.uns["protein_truth"] = {"positive": positive, "fold_change": fold, "background": background}


def _add_peaks(adata: ad.AnnData, params: SimulationParams, cell_type: np.ndarray) -> None:
    """The same cells' chromatin accessibility (multiome): fragment counts in ``obsm['peak_counts']`` (cells x
    regions, CSR), the regions' names in ``uns['peak_regions']``, and ``obs['separated_by']``: the last two types
    share one RNA profile and differ in accessibility ('peaks'), the two before them share one accessibility
    profile and differ in RNA ('rna'). Drawn from a generator of its own, so the RNA counts are those of the same
    simulation without peaks."""
    from lifedl.data.chromatin import PeakSimulationParams, draw_fragments, region_names

    n_types = params.n_types
    peaks = PeakSimulationParams(n_cells=params.n_cells, n_peaks=params.n_peaks, n_types=n_types, seed=params.seed)
    counts, opened_by = draw_fragments(
        cell_type,
        n_types,
        peaks,
        np.random.default_rng([params.seed, 6]),
        same_accessibility=(n_types - 4, n_types - 3),
    )
    names, _ = region_names(params.n_peaks)
    adata.obsm["peak_counts"] = counts
    adata.uns["peak_regions"] = np.array(names, dtype=object)
    adata.uns["peak_opened_by"] = opened_by.astype(object)
    groups = np.full(n_types, "both", dtype=object)
    groups[[-4, -3]], groups[[-2, -1]] = "rna", "peaks"
    adata.obs["separated_by"] = pd.Categorical(groups[cell_type], ["both", "rna", "peaks"])
