"""LDVAE's interpretability measured, not judged by eye: do a factor's top-loading genes form a known program?

For each latent factor and each sign of its loadings (a linear decoder's factor has no preferred sign, so
the genes it raises and those it lowers are two gene lists), the ``n_top`` genes with the largest loadings
of that sign are tested against every gene program by the hypergeometric test: the chance of at least the
observed overlap when ``n_top`` genes are drawn at random from the data's genes. ``p_adjusted`` is
Bonferroni over every factor, sign and program tested, so a row under 0.05 is a program the factor
recovers beyond chance across the whole table. ``enrichment_summary`` counts them per model: PCA's leading
components, tested the same way, are the baseline.

VEGA names its latent dimensions by program up front; ``program_peaks`` checks the names: the cell type in
which each program's mean activity is highest (and lowest), standardised across cell types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import hypergeom

from lifedl.errors import LifedlError

N_TOP_GENES = 30
N_GENES_SHOWN = 6  # of the top genes, the first few named in the table


def loading_enrichment(
    loadings: np.ndarray, gene_names: Sequence[str], programs: Mapping[str, Sequence[str]], n_top: int = N_TOP_GENES
) -> pd.DataFrame:
    """One row per factor and sign: its best-matching program, the overlap, the hypergeometric p-value and the
    Bonferroni-adjusted one (``loadings``: genes x factors)."""
    genes = np.asarray(gene_names, dtype=str)
    if loadings.ndim != 2 or loadings.shape[0] != len(genes):
        raise LifedlError(f"loadings of shape {loadings.shape} do not match {len(genes)} genes (genes x factors).")
    if not 0 < n_top < len(genes):
        raise LifedlError(f"n_top must be between 1 and the number of genes - 1 ({len(genes) - 1}), got {n_top}.")
    present = {name: sorted(set(members) & set(genes)) for name, members in programs.items()}
    present = {name: members for name, members in present.items() if members}
    if not present:
        raise LifedlError(
            f"none of the {len(programs)} gene programs shares a gene with the data's {len(genes)} genes; give "
            "programs named with the data's gene names."
        )
    n_tests = 2 * loadings.shape[1] * len(present)
    rows = []
    for factor in range(loadings.shape[1]):
        for direction, sign in (("positive", 1.0), ("negative", -1.0)):
            top = genes[np.argsort(-sign * loadings[:, factor], kind="stable")[:n_top]]
            tests = []
            for name, members in present.items():
                overlap = sorted(set(top) & set(members))
                p_value = float(hypergeom.sf(len(overlap) - 1, len(genes), len(members), n_top))
                tests.append((p_value, -len(overlap), name, overlap, len(members)))
            p_value, _, name, overlap, size = min(tests)
            rows.append(
                {
                    "factor": factor,
                    "direction": direction,
                    "best_program": name,
                    "overlap": len(overlap),
                    "program_genes": size,
                    "n_top": n_top,
                    "p_value": p_value,
                    "p_adjusted": min(1.0, p_value * n_tests),
                    "shared_genes": ",".join(overlap),
                    "top_genes": ",".join(top[:N_GENES_SHOWN]),
                }
            )
    return pd.DataFrame(rows)


SIGNIFICANCE = 0.05
SUMMARY_COLUMNS = ["arch", "n_factors", "significant_factor_signs", "programs_recovered", "programs", "median_best_p"]


def enrichment_summary(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per model: factors tested, factor signs whose best program passes Bonferroni at 0.05, the distinct
    programs they recover, and the median best p-value."""
    rows = []
    for arch, table in tables.items():
        significant = table[table["p_adjusted"] < SIGNIFICANCE]
        rows.append(
            {
                "arch": arch,
                "n_factors": table["factor"].nunique(),
                "significant_factor_signs": len(significant),
                "programs_recovered": significant["best_program"].nunique(),
                "programs": ",".join(sorted(significant["best_program"].unique())),
                "median_best_p": float(table["p_value"].median()),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def program_activity(embedding, arch: str) -> pd.DataFrame:
    """A program-named embedding (VEGA's AnnData: obsm['X_<arch>'], uns['<arch>_programs']) as cells x programs."""
    return pd.DataFrame(embedding.obsm[f"X_{arch}"], columns=list(embedding.uns[f"{arch}_programs"]))


def standardised_activity(activity: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Programs x cell types: mean activity per cell type, standardised per program across cell types."""
    means = activity.groupby(np.asarray(labels)).mean().T
    return means.sub(means.mean(axis=1), axis=0).div(means.std(axis=1).replace(0, 1), axis=0)


def program_peaks(activity: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """One row per program (``activity``: cells x programs): the cell type of highest and of lowest mean activity
    and their z-scores across cell types."""
    z = standardised_activity(activity, labels)
    return pd.DataFrame(
        {
            "program": z.index,
            "peak_label": z.idxmax(axis=1).to_numpy(),
            "peak_z": z.max(axis=1).to_numpy(),
            "lowest_label": z.idxmin(axis=1).to_numpy(),
            "lowest_z": z.min(axis=1).to_numpy(),
        }
    )
