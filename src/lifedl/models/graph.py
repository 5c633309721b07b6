"""Regressors of a molecular property (data kind ``graphs``): ``gcn``, and the baselines ``fingerprint``
(ridge regression on Morgan fingerprints) and ``physics`` (a column the data set ships, e.g. FreeSolv's
physics-based calculation of the hydration free energy).

All are trained on the non-test rows only; the target is the data set's ``labels`` column.
"""

from __future__ import annotations

from typing import Any

import anndata as ad
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lifedl.data.batches import predict_batches, take_rows
from lifedl.data.graphs import N_ATOM_FEATURES, SMILES, featurise, morgan_fingerprints
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import TEST, TRAIN, VALIDATION, split_of
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel
from lifedl.nn.graph import GraphRegressor
from lifedl.tl.regression import regression_metrics

GRAPH_FIELDS = ("features", "adjacency", "mask")


def regression_rows(adata: ad.AnnData, spec: DatasetSpec, arch: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The SMILES, targets and split ('train' or 'validation') of the rows a model may train or tune on (test
    rows left out)."""
    fix = f"set the 'labels' column of dataset '{spec.id}' in {spec.sheet} to the property to predict"
    if not spec.labels or spec.labels not in adata.obs:
        raise LifedlError(f"{spec.where}: {arch} needs a numeric target column in obs; {fix}.")
    if SMILES not in adata.obs:
        raise LifedlError(f"{spec.where}: no obs['{SMILES}']; a graphs data set holds each molecule's SMILES.")
    split = split_of(adata, spec.where)
    keep = split != TEST
    target = finite_numbers(adata.obs[spec.labels][keep], f"{spec.where}: obs['{spec.labels}']")
    if len(target) < 2:
        raise LifedlError(f"{spec.where}: {len(target)} training molecule(s); at least 2 are needed.")
    return adata.obs[SMILES][keep].astype(str).to_numpy(), target, split[keep]


def finite_numbers(values, what: str) -> np.ndarray:
    """A numeric obs column as floats; a non-numeric column or a missing value is an error naming ``what``."""
    numbers = np.asarray(values, dtype=float) if values.dtype.kind in "fiu" else None
    if numbers is None or not np.isfinite(numbers).all():
        raise LifedlError(f"{what} must hold a finite number per molecule; fill or drop the rows without one.")
    return numbers


class GraphNetwork(nn.Module):
    def __init__(self, params: dict):
        super().__init__()
        self.body = GraphRegressor(N_ATOM_FEATURES, params["n_hidden"], params["n_layers"], params["dropout"])

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.body(batch["features"], batch["adjacency"], batch["mask"])

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"mse": F.mse_loss(self(batch), batch["target"])}  # on the standardised target


class GraphModel(TrainedModel):
    def __init__(self, arch, network, params, target_mean, target_sd, final_metrics=None):
        self.arch, self.network, self.params = arch, network.eval(), dict(params)
        self.target_mean, self.target_sd = float(target_mean), float(target_sd)
        self.final_metrics = dict(final_metrics or {})

    def _predict_graphs(self, graphs: dict[str, np.ndarray]) -> np.ndarray:
        self.network.eval()
        device = next(self.network.parameters()).device
        values = predict_batches(lambda batch: self.network({k: v.to(device) for k, v in batch.items()}), graphs)
        return values * self.target_sd + self.target_mean

    def predict(self, adata: ad.AnnData) -> np.ndarray:
        """The property of each molecule (``obs['smiles']``), in the target's units."""
        graphs = featurise(adata.obs[SMILES].astype(str), "the molecules to predict")  # any size: padded per call
        return self._predict_graphs(graphs)

    def own_state(self) -> dict[str, Any]:
        return {
            "target_mean": self.target_mean,
            "target_sd": self.target_sd,
            "state_dict": self.network.state_dict(),
        }


class FingerprintModel(TrainedModel):
    """Ridge regression on Morgan fingerprint bits, the strength chosen on a validation split."""

    def __init__(self, params, coef, intercept, final_metrics=None):
        self.arch, self.params = "fingerprint", dict(params)
        self.coef, self.intercept = np.asarray(coef, dtype=np.float64), float(intercept)
        self.final_metrics = dict(final_metrics or {})

    def predict(self, adata: ad.AnnData) -> np.ndarray:
        bits = morgan_fingerprints(adata.obs[SMILES].astype(str), "the molecules to predict", **self._fingerprint())
        return bits @ self.coef + self.intercept

    def _fingerprint(self) -> dict:
        return {"radius": self.params["radius"], "n_bits": self.params["n_bits"]}

    def own_state(self) -> dict[str, Any]:
        return {
            "coef": torch.from_numpy(self.coef),
            "intercept": self.intercept,
        }


class ColumnModel(TrainedModel):
    """The ``physics`` baseline: a value the data set ships per molecule (e.g. a physics-based calculation)."""

    def __init__(self, params, final_metrics=None):
        self.arch, self.params, self.final_metrics = "physics", dict(params), dict(final_metrics or {})

    def predict(self, adata: ad.AnnData) -> np.ndarray:
        column = self.params["column"]
        if column not in adata.obs:
            raise LifedlError(
                f"physics: the data has no column '{column}' (params.physics.column), only {list(adata.obs)}; "
                "set params.physics.column in config/config.yaml to the column holding the shipped values, or "
                "leave physics out of 'architectures'."
            )
        return finite_numbers(adata.obs[column], f"obs['{column}']")

    def own_state(self) -> dict[str, Any]:
        return {}


def _rmse(predicted, observed) -> float:
    return regression_metrics(observed, predicted)["rmse"]


def _fit_ridge(smiles, target, split, params: dict) -> FingerprintModel:
    """The ridge strength chosen by the RMSE on the validation rows, refitted on train and validation rows."""
    from sklearn.linear_model import Ridge

    bits = morgan_fingerprints(smiles, "fingerprint", radius=params["radius"], n_bits=params["n_bits"])
    train, val = np.flatnonzero(split == TRAIN), np.flatnonzero(split == VALIDATION)
    scores = {}
    for alpha in params["alphas"]:
        fitted = Ridge(alpha=alpha).fit(bits[train], target[train])
        scores[alpha] = _rmse(fitted.predict(bits[val]), target[val])
    best = min(scores, key=lambda alpha: (scores[alpha], alpha))
    final = Ridge(alpha=best).fit(bits, target)
    metrics = {"alpha": float(best), "val_rmse": scores[best], "n_train": float(len(target))}
    return FingerprintModel(params, final.coef_, final.intercept_, metrics)


def setup(adata: ad.AnnData, params: dict, spec: DatasetSpec, seed: int, arch: str = "gcn") -> Setup:
    if arch == "physics":  # its column checked now, before a run is logged as finished
        ColumnModel(params).predict(adata)
        return Setup(network=None, arrays={}, finish=lambda result: ColumnModel(params))
    smiles, target, split = regression_rows(adata, spec, arch)
    if arch == "fingerprint":
        if not params["alphas"]:
            raise LifedlError("fingerprint: 'alphas' is empty; list the ridge strengths to choose from, e.g. [1, 10].")
        return Setup(network=None, arrays={}, finish=lambda result: _fit_ridge(smiles, target, split, params))
    graphs = featurise(smiles, spec.where)
    mean, sd = float(target.mean()), float(target.std()) or 1.0
    with torch.random.fork_rng():  # the initial weights depend on the seed only
        torch.manual_seed(seed)
        network = GraphNetwork(params)
    arrays = {**graphs, "target": ((target - mean) / sd).astype(np.float32)}

    def finish(result: FitResult) -> GraphModel:
        model = GraphModel(arch, network, params, mean, sd, result.metrics)
        held_out = take_rows(arrays, np.asarray(result.val_index, dtype=np.int64))
        if len(held_out["target"]):
            predicted = model._predict_graphs({k: held_out[k] for k in GRAPH_FIELDS})
            model.final_metrics["val_rmse"] = _rmse(predicted, held_out["target"] * sd + mean)
        return model

    return Setup(network=network, arrays=arrays, finish=finish, split=split)


def from_checkpoint(checkpoint: dict):
    arch, params = checkpoint["arch"], checkpoint["params"]
    if arch == "physics":
        return ColumnModel(params, checkpoint["final_metrics"])
    if arch == "fingerprint":
        coef = checkpoint["coef"]
        coef = coef.numpy() if isinstance(coef, torch.Tensor) else np.asarray(coef)
        return FingerprintModel(params, coef, checkpoint["intercept"], checkpoint["final_metrics"])
    network = GraphNetwork(params)
    network.load_state_dict(checkpoint["state_dict"])
    return GraphModel(
        arch,
        network,
        params,
        checkpoint["target_mean"],
        checkpoint["target_sd"],
        checkpoint["final_metrics"],
    )
