"""scGen (Lotfollahi, Wolf & Theis 2019): predict a cell type's response to a stimulus by latent vector arithmetic.

lifedl's ``vae`` (its network and training loop, reused) is trained on
every cell except the held-out type's stimulated ones. The stimulus is then a vector in
latent space,

    delta = mean z(stimulated) - mean z(control),

estimated on the other cell types with the paper's balancing (each type contributes the
same number of sampled cells per condition, so a large type does not dominate), and the
held-out type's control cells are predicted as decode(z + delta), as mean log-normalised
expression.

Likelihood: the paper's is Gaussian (MSE) on log-normalised expression (``gaussian`` here);
the default is ``nb``, whose decoder moves a gene by a fold change of its counts, so that
z + delta keeps a gene the held-out type barely expresses near zero. On the simulated
responses it beat the other types' average response where the Gaussian did not (see the
registry entry).

The held-out type's stimulated cells are removed before anything else is done, so they
reach neither the training nor the validation split; the only transformation is per cell
(log of library-size-normalised counts), so no statistic over cells exists that they could
leak into.
"""

from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np
import pandas as pd
import torch

from lifedl.data.splits import split_of
from lifedl.errors import LifedlError
from lifedl.models import vae
from lifedl.models.base import FitResult, Setup, TrainedModel
from lifedl.nn.layers import TARGET_SUM
from lifedl.nn.sampling import draw_counts
from lifedl.pp.counts import library_sizes, model_counts
from lifedl.tl.perturbation import stimulated_value

PREDICTED = "predicted"  # obs condition value of predicted cells
LIKELIHOODS = ("gaussian", "nb")
# NB draws per predicted cell when averaging log-normalised expression: with a few hundred cells the
# Monte Carlo error of a gene's mean is then about 1% of its cell-to-cell spread.
NB_DRAWS_PER_CELL = 16


@dataclasses.dataclass(frozen=True)
class PerturbationSettings:
    """Which cells are which (datasets.tsv 'labels', 'condition', 'control', 'heldout')."""

    labels_key: str
    condition_key: str
    control_value: str
    stimulated_value: str
    heldout_type: str

    def is_control(self, adata: ad.AnnData) -> np.ndarray:
        return (adata.obs[self.condition_key].astype(str) == self.control_value).to_numpy()

    def is_heldout(self, adata: ad.AnnData) -> np.ndarray:
        return (adata.obs[self.labels_key].astype(str) == self.heldout_type).to_numpy()


def settings_from_spec(adata: ad.AnnData, spec) -> PerturbationSettings:
    """Which cells are which, from the data set's roles (checked against the data)."""
    keys = (spec.labels, spec.condition, spec.control, spec.heldout)
    stimulated = stimulated_value(adata.obs, *keys, source=spec.where)
    return PerturbationSettings(spec.labels, spec.condition, spec.control, stimulated, spec.heldout)


def balanced_delta(
    latent: np.ndarray, cell_types: np.ndarray, is_control: np.ndarray, seed: int
) -> tuple[np.ndarray, dict]:
    """scGen's balanced latent difference: mean of stimulated minus mean of control cells, where every
    (type, condition) group contributes the same number of cells, drawn with replacement up to the
    largest group's size (the paper's ``balancer``), with a seeded generator.

    Only types with cells in both conditions take part. Returns delta and what it was estimated on.
    """
    cell_types = np.asarray(cell_types).astype(str)
    types = sorted(
        t for t in set(cell_types) if np.any((cell_types == t) & is_control) and np.any((cell_types == t) & ~is_control)
    )
    if not types:
        raise LifedlError(
            "no cell type besides the held-out one has both control and stimulated cells, so scGen cannot estimate "
            "the stimulus vector; check the 'condition' and 'heldout' columns of config/datasets.tsv."
        )
    groups = [np.flatnonzero((cell_types == t) & (is_control == control)) for t in types for control in (True, False)]
    n_per_group = max(len(group) for group in groups)
    rng = np.random.default_rng(seed)
    sampled = [rng.choice(group, n_per_group, replace=True) for group in groups]
    control_mean = latent[np.concatenate(sampled[0::2])].mean(axis=0)
    stimulated_mean = latent[np.concatenate(sampled[1::2])].mean(axis=0)
    return stimulated_mean - control_mean, {"types": types, "cells_per_group": n_per_group}


class ScGenModel(TrainedModel):
    def __init__(
        self,
        arch: str,
        vae_model: vae.VAEModel,
        delta: np.ndarray,
        settings: PerturbationSettings,
        delta_types: list[str],
        seed: int = 0,
        final_metrics: dict | None = None,
    ):
        self.arch, self.vae = arch, vae_model
        self.gene_names, self.params = vae_model.gene_names, vae_model.params
        self.delta = np.asarray(delta, dtype=np.float32)
        self.settings, self.delta_types = settings, list(delta_types)
        self.seed = seed  # of the balancing draws and of the NB draws in predict
        self.final_metrics = dict(final_metrics or {})

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        """Latent means (the encoder's posterior mean) of any cells measured on the model's genes."""
        return self.vae.embed(adata)

    def predict(self, adata: ad.AnnData) -> ad.AnnData:
        """The held-out type's control cells in ``adata``, moved by delta in latent space and decoded.

        ``X``: predicted log-normalised expression (the decoder mean on that scale, see
        :meth:`expected_log_expression`); obs: the control cells' obs with condition 'predicted';
        ``obsm['X_scgen']``: the shifted latent points.
        """
        settings = self.settings
        for key in (settings.labels_key, settings.condition_key):
            if key not in adata.obs:
                raise LifedlError(f"the cells to predict from lack obs column '{key}' that the model was trained with.")
        control = adata[settings.is_heldout(adata) & settings.is_control(adata)]
        if control.n_obs == 0:
            raise LifedlError(
                f"no control cells of the held-out type '{settings.heldout_type}' (obs '{settings.labels_key}', "
                f"'{settings.condition_key}' == '{settings.control_value}') to predict the response of."
            )
        shifted = self.embed(control) + self.delta
        library_size = library_sizes(model_counts(control, self.gene_names))
        obs = control.obs.copy()
        obs[settings.condition_key] = pd.Categorical([PREDICTED] * control.n_obs)
        predicted = ad.AnnData(
            X=self.expected_log_expression(shifted, library_size), obs=obs, var=pd.DataFrame(index=self.gene_names)
        )
        predicted.obsm[f"X_{self.arch}"] = shifted
        return predicted

    def expected_log_expression(self, z: np.ndarray, library_size: np.ndarray) -> np.ndarray:
        """Expected log-normalised expression, log1p(counts / library size * 1e4), of cells at latent points z.

        gaussian: the decoder mean, which is on that scale. nb: counts ~ NB(library size * decoded
        proportions, theta) at each cell's own library size; the expectation of their log has no closed
        form, and log1p of the expected count overstates it (Jensen), most for sparse genes, so it is
        averaged over seeded draws.
        """
        if not self.vae.network.likelihood.on_counts:
            return self.vae.decode_expression(z).astype(np.float32)
        network = self.vae.network
        theta = torch.exp(network.gene_parameter.detach()).numpy().astype(np.float64)
        rng = np.random.default_rng(self.seed)
        chunks = []
        for start in range(0, len(z), 256):  # bounds the (draws x cells x genes) array
            z_chunk = torch.as_tensor(z[start : start + 256], dtype=torch.float32)
            library = library_size[start : start + 256, None].astype(np.float64)
            with torch.no_grad():
                logits, _ = network.decode(z_chunk, torch.zeros(len(z_chunk), dtype=torch.long))
            mu = torch.softmax(logits.double(), dim=-1).numpy() * library
            draws = draw_counts(np.broadcast_to(mu, (NB_DRAWS_PER_CELL, *mu.shape)), theta, rng)
            chunks.append(np.log1p(draws / np.maximum(library, 1.0) * TARGET_SUM).mean(axis=0))
        return np.concatenate(chunks).astype(np.float32)

    def own_state(self) -> dict:
        return {
            "vae": self.vae.checkpoint(),
            "delta": self.delta,
            "settings": dataclasses.asdict(self.settings),
            "delta_types": self.delta_types,
            "seed": self.seed,
        }


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "scgen") -> Setup:
    if params["likelihood"] not in LIKELIHOODS:
        raise LifedlError(
            f"scgen's likelihood must be one of {LIKELIHOODS}, got '{params['likelihood']}' (config params.scgen)."
        )
    settings = settings_from_spec(adata, spec)
    is_control, is_heldout = settings.is_control(adata), settings.is_heldout(adata)
    # The held-out type's stimulated cells go first, before the train/validation split and everything else.
    training_cells = adata[~(is_heldout & ~is_control)].copy()
    # The published scGen has no batch covariate: delta is one vector for all cells.
    vae_setup = vae.setup(training_cells, params, dataclasses.replace(spec, batch=""), seed, "vae")

    def finish(result: FitResult) -> ScGenModel:
        vae_model = vae_setup.finish(result)
        others = ~settings.is_heldout(training_cells)
        delta, estimated_on = balanced_delta(
            vae_model.embed(training_cells[others]),
            training_cells.obs[settings.labels_key].to_numpy()[others],
            settings.is_control(training_cells)[others],
            seed,
        )
        metrics = {
            **vae_model.final_metrics,
            "delta_norm": float(np.linalg.norm(delta)),
            "delta_cells_per_group": float(estimated_on["cells_per_group"]),
            "n_delta_types": float(len(estimated_on["types"])),
            "n_heldout_control_cells": float(np.sum(is_heldout & is_control)),
        }
        return ScGenModel(arch, vae_model, delta, settings, estimated_on["types"], seed, metrics)

    return Setup(vae_setup.network, vae_setup.arrays, finish, split=split_of(training_cells, spec.where))


def from_checkpoint(checkpoint: dict) -> ScGenModel:
    return ScGenModel(
        checkpoint["arch"],
        vae.from_checkpoint(checkpoint["vae"]),
        checkpoint["delta"],
        PerturbationSettings(**checkpoint["settings"]),
        checkpoint["delta_types"],
        checkpoint["seed"],
        checkpoint["final_metrics"],
    )
