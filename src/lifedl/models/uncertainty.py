"""Cell-type classifiers that say how sure they are: ``mlp``, ``mc_dropout`` and ``bnn`` (seed 004's Bayesian
network).

All three read the cells' scaled PCA (fitted on the train split's cells alone) through one hidden layer:

- ``mlp``: trained and used deterministically; its confidence is the softmax. The family's baseline.
- ``mc_dropout``: the same network and training; at prediction dropout stays on and the class probabilities are
  averaged over ``mc_samples`` passes (Gal & Ghahramani 2016).
- ``bnn``: Bayes by backprop (``lifedl.nn.bayes``), ELBO = cross-entropy + KL(q(w) || prior) per training cell
  (parts ``cross_entropy`` and ``kl``); predictions average ``mc_samples`` networks drawn from q(w).
- ``mlp_temperature``: the mlp's trained network of the same seed (not trained again) with temperature scaling
  (Guo et al. 2017): one temperature dividing its logits, fitted on the validation cells' negative log-likelihood;
  the simple calibration the others must beat.
- ``mlp_ensemble``: a deep ensemble (Lakshminarayanan et al. 2017) of ``n_members`` mlps from different
  initialisations, trained side by side on the same minibatches (early stopping on their summed loss);
  predictions average the members' probabilities.

Test cells and every cell of the data set's held-out class (sheet column ``heldout``) are left out of training,
so the classify step can ask whether the predictive entropy tells unseen cells from seen ones.
"""

from __future__ import annotations

import functools
from typing import Any

import anndata as ad
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import TRAIN, VALIDATION, split_of
from lifedl.models.base import FitResult, Setup, TrainedModel
from lifedl.nn.bayes import BayesLinear
from lifedl.pp.counts import log_normalise, model_counts
from lifedl.pp.pca import ScaledPCA
from lifedl.tl.classification import temperature_scaled, validation_scores

MAX_VALUE = 10.0  # scanpy's scale clip, as the pca baseline


class CellClassifier(nn.Module):
    """features -> hidden (ReLU, dropout) -> class logits; with ``bayesian`` both layers are BayesLinear."""

    def __init__(self, n_in: int, n_hidden: int, n_classes: int, dropout: float, bayesian=False, prior_sd=1.0, n_fit=1):
        super().__init__()
        layer = functools.partial(BayesLinear, prior_sd=prior_sd) if bayesian else nn.Linear
        self.hidden, self.output = layer(n_in, n_hidden), layer(n_hidden, n_classes)
        self.dropout = nn.Dropout(dropout)
        self.bayesian, self.n_fit = bayesian, n_fit

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.output(self.dropout(F.relu(self.hidden(features))))

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        parts = {"cross_entropy": F.cross_entropy(self(batch["features"]), batch["label"])}
        if self.bayesian:  # the ELBO per cell: the KL is spread over the cells the network is fitted to
            parts["kl"] = (self.hidden.kl() + self.output.kl()) / self.n_fit
        return parts


class EnsembleClassifier(nn.Module):
    """Independently initialised CellClassifiers; the loss sums theirs, so each member fits the data alone."""

    def __init__(self, members: list[CellClassifier]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """members x n x classes logits."""
        return torch.stack([member(features) for member in self.members])

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        logits = self(batch["features"])
        return {"cross_entropy": sum(F.cross_entropy(member, batch["label"]) for member in logits)}


def _network(arch: str, params: dict, n_in: int, n_classes: int, n_fit: int) -> nn.Module:
    bayesian = arch == "bnn"
    prior_sd = params.get("prior_sd", 1.0)

    def classifier() -> CellClassifier:
        return CellClassifier(n_in, params["n_hidden"], n_classes, params["dropout"], bayesian, prior_sd, n_fit)

    if arch == "mlp_ensemble":
        return EnsembleClassifier([classifier() for _ in range(params["n_members"])])
    return classifier()


class CellClassifierModel(TrainedModel):
    def __init__(
        self, arch, network, params, classes, gene_names, pca: ScaledPCA, scale, final_metrics=None, temperature=1.0
    ):
        self.arch, self.network, self.params = arch, network.eval(), dict(params)
        self.classes, self.gene_names = [str(c) for c in classes], list(gene_names)
        self.pca, self.scale = pca, np.asarray(scale, dtype=np.float32)
        self.final_metrics = dict(final_metrics or {})
        self.temperature = float(temperature)  # divides the logits (mlp_temperature); 1: none

    def features(self, adata: ad.AnnData) -> np.ndarray:
        expression = log_normalise(model_counts(adata, self.gene_names), self.params["target_sum"]).toarray()
        return self.pca.transform(expression) / self.scale

    def logits(self, features: np.ndarray) -> np.ndarray:
        """n x classes logits of the deterministic network (dropout off), before any temperature."""
        with torch.no_grad():
            return self.network.eval()(torch.as_tensor(features, dtype=torch.float32)).numpy()

    def draws(self, features: np.ndarray, seed: int = 0) -> np.ndarray:
        """mc_samples x n x classes probabilities: one network per draw (dropout masks or weights drawn, the
        same for every cell of a draw), or one per member of an ensemble; a single deterministic pass where
        mc_samples is 0. Logits are divided by the temperature."""
        if isinstance(self.network, EnsembleClassifier):
            return torch.softmax(torch.as_tensor(self.logits(features)) / self.temperature, dim=-1).numpy()
        n_draws = max(1, self.params["mc_samples"])
        self.network.train(self.params["mc_samples"] > 0)  # dropout on only for Monte Carlo draws
        x = torch.as_tensor(features, dtype=torch.float32)
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(seed)
            draws = [torch.softmax(self._with_shared_draw(x) / self.temperature, dim=-1) for _ in range(n_draws)]
        self.network.eval()
        return torch.stack(draws).numpy()

    def _with_shared_draw(self, x: torch.Tensor) -> torch.Tensor:
        if not self.network.training:
            return self.network(x)
        # one dropout mask for every cell of this draw: draw it on one row, apply it to all
        hidden = F.relu(self.network.hidden(x))
        mask = self.network.dropout(torch.ones_like(hidden[:1]))
        return self.network.output(hidden * mask)

    def probability_draws(self, adata: ad.AnnData, seed: int = 0) -> np.ndarray:
        return self.draws(self.features(adata), seed)

    def predict_proba(self, adata: ad.AnnData) -> np.ndarray:
        """n x len(classes) class probabilities (the mean over draws), columns in ``classes`` order."""
        return self.probability_draws(adata).mean(axis=0)

    def own_state(self) -> dict[str, Any]:
        return {
            "classes": self.classes,
            "gene_names": self.gene_names,
            "pca": self.pca.state(),
            "scale": self.scale,
            "n_in": int(self.pca.components.shape[0]),
            "state_dict": self.network.state_dict(),
            "temperature": self.temperature,
        }


def setup(
    adata: ad.AnnData, params: dict, spec: DatasetSpec, seed: int, arch: str = "mlp", models=None
) -> Setup:  # fmt: skip
    keep, labels = spec.labelled_training_rows(adata, arch, unit="cell")
    split = split_of(adata, spec.where)[keep]
    if arch == "mlp_temperature":  # the mlp's network of the same seed, one number added on the validation cells

        def scale(result) -> CellClassifierModel:
            trained, validation = models["mlp"], np.flatnonzero(split == VALIDATION)
            features = trained.features(adata[keep][validation])
            index = {name: code for code, name in enumerate(trained.classes)}
            codes = np.array([index[str(label)] for label in np.asarray(labels)[validation]], dtype=np.int64)
            model = temperature_scaled(trained, arch, trained.logits(features), codes)
            return _with_validation_scores(model, features, codes, seed)

        return Setup(network=None, arrays={}, finish=scale)
    classes = sorted(set(labels))
    expression = log_normalise(model_counts(adata[keep], what=spec.where), params["target_sum"]).toarray()
    pca = ScaledPCA.fit(expression[split == TRAIN], params["n_components"], MAX_VALUE, seed)
    components = pca.transform(expression)
    scale = components[split == TRAIN].std(axis=0) + 1e-6  # each component to unit variance: one rate suits all
    n_fit = int((split == TRAIN).sum())
    with torch.random.fork_rng():  # the initial weights depend on the seed only
        torch.manual_seed(seed)
        network = _network(arch, params, components.shape[1], len(classes), n_fit)
    index = {name: code for code, name in enumerate(classes)}
    arrays = {
        "features": (components / scale).astype(np.float32),
        "label": np.array([index[label] for label in labels], dtype=np.int64),
    }
    print(f"{arch}: {pca.summary('training cells')}; {len(classes)} classes, {len(labels)} cells", flush=True)

    def finish(result: FitResult) -> CellClassifierModel:
        model = CellClassifierModel(arch, network, params, classes, adata.var_names, pca, scale, result.metrics)
        val = np.asarray(result.val_index, dtype=np.int64)
        return _with_validation_scores(model, arrays["features"][val], arrays["label"][val], seed)

    return Setup(network=network, arrays=arrays, finish=finish, split=split)


def _with_validation_scores(model, features: np.ndarray, codes: np.ndarray, seed: int) -> CellClassifierModel:
    if len(codes):
        probabilities = model.draws(features, seed).mean(axis=0)
        truth = np.asarray(model.classes)[codes]
        model.final_metrics.update(validation_scores(truth, probabilities, model.classes))
    return model


def from_checkpoint(checkpoint: dict) -> CellClassifierModel:
    arch, params, classes = checkpoint["arch"], checkpoint["params"], checkpoint["classes"]
    network = _network(arch, params, checkpoint["n_in"], len(classes), 1)
    network.load_state_dict(checkpoint["state_dict"])
    return CellClassifierModel(
        arch,
        network,
        params,
        classes,
        checkpoint["gene_names"],
        ScaledPCA(**checkpoint["pca"]),
        checkpoint["scale"],
        checkpoint["final_metrics"],
        checkpoint.get("temperature", 1.0),
    )
