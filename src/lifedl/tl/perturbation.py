"""Scoring a predicted perturbation response (scGen's figure 2): R^2 of per-gene mean expression.

A model's prediction for the held-out cell type's stimulated cells is compared with the real
ones, next to two baselines that need no model: ``no_change`` (the held-out type's control
cells as they are) and ``average_response`` (its control cells plus the other types' average
stimulated-minus-control shift). Everything is on log-normalised expression computed from
``layers['counts']`` with :func:`lifedl.pp.counts.log_normalise`, the scale scGen predicts on.
"""

from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np
import pandas as pd

from lifedl.errors import LifedlError
from lifedl.pp.counts import counts_matrix, log_normalise
from lifedl.tl.seeds import mean_and_sd, paired_difference

SHEET = "config/datasets.tsv"
BASELINES = ("no_change", "average_response")


def stimulated_value(
    obs: pd.DataFrame, labels_key: str, condition_key: str, control_value: str, heldout_type: str, source: str = ""
) -> str:
    """Check the columns a perturbation data set needs and return the one non-control condition value.

    Every problem is reported as the datasets sheet column to fix.
    """
    where = f"{source}: " if source else ""
    for column, key, role in (("labels", labels_key, "cell types"), ("condition", condition_key, "conditions")):
        if not key:
            raise LifedlError(
                f"{where}a perturbation model needs the obs column of {role}: fill the '{column}' column of this "
                f"data set's row in {SHEET}."
            )
        if key not in obs:
            raise LifedlError(
                f"{where}the '{column}' column of {SHEET} names obs column '{key}', but the data has only "
                f"{sorted(obs.columns)}. Fix the '{column}' column of this data set's row."
            )
    conditions = sorted(obs[condition_key].astype(str).unique())
    if not control_value or control_value not in conditions:
        raise LifedlError(
            f"{where}the 'control' column of {SHEET} is '{control_value}', which is not a value of obs "
            f"'{condition_key}' (values: {conditions[:10]}). Set it to the value that marks control cells."
        )
    if len(conditions) != 2:
        raise LifedlError(
            f"{where}obs '{condition_key}' (the 'condition' column of {SHEET}) has {len(conditions)} values "
            f"{conditions[:10]}; a perturbation model needs exactly two, control and stimulated. Subset the data "
            "to one stimulus or point 'condition' at a two-valued column."
        )
    types = obs[labels_key].astype(str)
    if not heldout_type or heldout_type not in set(types):
        raise LifedlError(
            f"{where}the 'heldout' column of {SHEET} is '{heldout_type}', which is not a cell type in obs "
            f"'{labels_key}' (types: {sorted(types.unique())[:10]}). Name the type whose response is predicted."
        )
    is_control = (obs[condition_key].astype(str) == control_value).to_numpy()
    if not np.any(is_control & (types == heldout_type).to_numpy()):
        raise LifedlError(
            f"{where}the held-out type '{heldout_type}' (the 'heldout' column of {SHEET}) has no control cells "
            f"(obs '{condition_key}' == '{control_value}'), so there is nothing to predict from; choose another type."
        )
    return next(value for value in conditions if value != control_value)


@dataclasses.dataclass
class ResponseMeans:
    """Per-gene mean log-normalised expression: the real stimulated cells of the held-out type and each prediction."""

    gene_names: list[str]
    real: np.ndarray
    predictions: dict[str, np.ndarray]  # method -> per-gene means, in the order of gene_names
    top_genes: np.ndarray  # indices of the top response genes, largest response first


def mean_log_expression(adata: ad.AnnData) -> np.ndarray:
    return np.asarray(log_normalise(counts_matrix(adata)).mean(axis=0)).ravel()


def balanced_mean_shift(adata: ad.AnnData, labels_key: str, condition_key: str, control_value: str) -> np.ndarray:
    """Mean over cell types of (mean stimulated - mean control): every type with both conditions counts once."""
    types = adata.obs[labels_key].astype(str).to_numpy()
    is_control = (adata.obs[condition_key].astype(str) == control_value).to_numpy()
    shifts = [
        mean_log_expression(adata[(types == t) & ~is_control]) - mean_log_expression(adata[(types == t) & is_control])
        for t in sorted(set(types))
        if np.any((types == t) & is_control) and np.any((types == t) & ~is_control)
    ]
    if not shifts:
        raise LifedlError(f"no cell type besides the held-out one has both control and stimulated cells ({SHEET}).")
    return np.mean(shifts, axis=0)


def response_means(
    adata: ad.AnnData,
    predicted: ad.AnnData,
    labels_key: str,
    condition_key: str,
    control_value: str,
    heldout_type: str,
    n_top_genes: int = 100,
    method: str = "scgen",
) -> ResponseMeans:
    """Per-gene means of the real and predicted responses: the numbers behind :func:`r2_table` and the
    response scatter figure (``predicted`` holds log-normalised expression in ``X``, e.g. ``ScGenModel.predict``).

    Top response genes: largest |mean stimulated - mean control| of the held-out type's real
    cells, on log-normalised expression (up and down alike; the paper took scanpy's top-ranked
    genes, which for the IFN-beta data are nearly all up-regulated).
    """
    stimulated_value(adata.obs, labels_key, condition_key, control_value, heldout_type)
    genes = list(adata.var_names)
    missing = sorted(set(genes) - set(predicted.var_names))
    if missing:
        raise LifedlError(f"the prediction lacks {len(missing)} of the data's genes (e.g. {missing[:5]}).")
    types = adata.obs[labels_key].astype(str).to_numpy()
    is_control = (adata.obs[condition_key].astype(str) == control_value).to_numpy()
    heldout = types == heldout_type
    if not np.any(heldout & ~is_control):
        raise LifedlError(
            f"the held-out type '{heldout_type}' has no stimulated cells to score a prediction against; "
            f"choose another 'heldout' type in {SHEET}."
        )
    real = mean_log_expression(adata[heldout & ~is_control])
    control = mean_log_expression(adata[heldout & is_control])
    others = adata[~heldout]
    predictions = {
        method: np.asarray(predicted[:, genes].X.mean(axis=0), dtype=np.float64).ravel(),
        "no_change": control,
        "average_response": control + balanced_mean_shift(others, labels_key, condition_key, control_value),
    }
    # stable sort: ties keep gene order, so the choice is reproducible
    top = np.argsort(-np.abs(real - control), kind="stable")[: min(n_top_genes, len(genes))]
    return ResponseMeans(genes, real, predictions, top)


def squared_pearson(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1] ** 2)


def r2_table(means: ResponseMeans) -> pd.DataFrame:
    """R^2 (squared Pearson, scGen's figure 2) of per-gene means, prediction vs the held-out type's real
    stimulated cells, over all genes and the top response genes; one row per method and baseline."""
    rows = [
        {
            "method": name,
            "r2_all_genes": squared_pearson(prediction, means.real),
            "r2_top_genes": squared_pearson(prediction[means.top_genes], means.real[means.top_genes]),
            "n_top_genes": len(means.top_genes),
        }
        for name, prediction in means.predictions.items()
    ]
    return pd.DataFrame(rows, columns=["method", "r2_all_genes", "r2_top_genes", "n_top_genes"])


def held_out_summary(runs: pd.DataFrame, validation_type: str = "") -> pd.DataFrame:
    """Mean and sd of each method's R^2 over held-out types and seeds (``runs``: :func:`r2_table` rows with
    ``heldout_type`` and ``seed``), and its margin over ``average_response`` on the top genes, paired per run, with
    a bootstrap 95 % interval over the runs and the verdict it gives."""
    baseline = runs[runs["method"] == "average_response"].set_index(["heldout_type", "seed"])["r2_top_genes"]
    rows = []
    for method, group in runs.groupby("method", sort=False):
        margin = group.set_index(["heldout_type", "seed"])["r2_top_genes"] - baseline
        row = {"method": method, "n_types": group["heldout_type"].nunique(), "n_runs": len(group)}
        row.update(mean_and_sd(group, ("r2_all_genes", "r2_top_genes")))
        row.update(
            mean_and_sd(margin.to_frame("top_margin_over_average_response"), ["top_margin_over_average_response"])
        )
        row["runs_beating_average_response"] = int((margin > 0).sum())
        paired = paired_difference(margin.to_numpy(), np.zeros(len(margin)), "r2_top_genes")  # margin vs none
        row.update({f"margin_{key}": value for key, value in paired.items() if key in ("ci_low", "ci_high")})
        row["verdict_against_average_response"] = paired["verdict"]
        rows.append(row)
    return pd.DataFrame(rows).assign(validation_type=validation_type)
