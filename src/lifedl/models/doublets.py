"""Doublet detectors: each gives every cell a doublet score without seeing a doublet label.

- ``library_size``: the cell's total counts or genes detected (a doublet holds two cells' worth; the one the
  validation cells prefer): the floor every detector must beat.
- ``scrublet``: scanpy's ``pp.scrublet`` (Wolock et al. 2019): doublets simulated from the observed cells, the
  share of simulated doublets among each cell's neighbours in a PCA. It scores a sample as a whole, so its model
  keeps the training cells and scores new cells in one sample with them, as a user runs it on a whole sample.
- ``recon_error``: seed 001's anomaly detection with an autoencoder: how badly the count VAE of the same seed
  (``vae``) reconstructs the cell, per cell or per count (chosen on the validation cells' labels).
- ``solo``: SOLO (Bernstein et al. 2020): doublets simulated from the training cells, encoded by the ``vae`` of the
  same seed (frozen, as scvi-tools' SOLO uses its scVI model), and a classifier of simulated doublets against the
  observed cells on that latent space, stopped early on the validation cells and their own simulated doublets.

Every detector's final metrics hold the auROC of the validation cells' labels (``val_auroc``).
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from lifedl.data.batches import predict_batches
from lifedl.data.doublets import random_pairs, sum_pairs
from lifedl.data.splits import TRAIN, VALIDATION, split_of
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel, model_from_state, model_state
from lifedl.pp.counts import model_counts
from lifedl.pp.qc import scrublet_components
from lifedl.tl.doublets import doublet_metrics


class DoubletModel(TrainedModel):
    """A detector: ``doublet_scores(adata)`` per cell, higher for likelier doublets."""

    def __init__(self, arch: str, params: dict, final_metrics: dict | None = None):
        self.arch, self.params, self.final_metrics = arch, dict(params), dict(final_metrics or {})

    def doublet_scores(self, adata: ad.AnnData) -> np.ndarray:
        raise NotImplementedError

    def own_state(self) -> dict:
        return {}

    def validated(self, adata: ad.AnnData, labels, split: np.ndarray) -> DoubletModel:
        """The model with ``val_auroc``: its scores' auROC on the validation cells of ``adata``."""
        validation = split == VALIDATION
        if validation.any():
            scores = self.doublet_scores(adata[validation])
            self.final_metrics["val_auroc"] = doublet_metrics(np.asarray(labels)[validation], scores)["auroc"]
        return self


class LibrarySizeModel(DoubletModel):
    """The cell's total counts, or its number of genes detected (``measure``; both grow in a doublet)."""

    def __init__(self, arch, params, measure: str, final_metrics=None):
        super().__init__(arch, params, final_metrics)
        self.measure = measure

    def doublet_scores(self, adata: ad.AnnData) -> np.ndarray:
        counts = sp.csr_matrix(adata.layers["counts"])
        per_cell = counts.sum(axis=1) if self.measure == "total_counts" else (counts > 0).sum(axis=1)
        return np.asarray(per_cell, dtype=float).ravel()

    def own_state(self) -> dict:
        return {"measure": self.measure}


def _best_on_validation(arch: str, candidates: dict, adata, labels, split) -> DoubletModel:
    """The candidate model (by setting) whose scores have the highest validation auROC, the others' printed."""
    for model in candidates.values():
        model.validated(adata, labels, split)
    best = max(candidates, key=lambda name: candidates[name].final_metrics.get("val_auroc", 0.0))
    tried = ", ".join(
        f"{name}: {model.final_metrics.get('val_auroc', float('nan')):.3f}" for name, model in candidates.items()
    )
    print(f"{arch}: validation auROC {tried}; kept {best}", flush=True)
    return candidates[best]


class ScrubletModel(DoubletModel):
    """scanpy's scrublet run on the training cells together with the cells to score, which get their scores."""

    def __init__(self, arch, params, gene_names, counts, seed: int, final_metrics=None):
        super().__init__(arch, params, final_metrics)
        self.gene_names, self.counts, self.seed = list(gene_names), sp.csr_matrix(counts), int(seed)

    def doublet_scores(self, adata: ad.AnnData) -> np.ndarray:
        import scanpy as sc

        new = sp.csr_matrix(model_counts(adata, self.gene_names))
        sample = ad.AnnData(sp.vstack([self.counts, new]).tocsr().astype(np.float32))
        sc.pp.scrublet(
            sample,
            sim_doublet_ratio=self.params["sim_doublet_ratio"],
            expected_doublet_rate=self.params["expected_doublet_rate"],
            n_prin_comps=scrublet_components(*sample.shape, self.params["n_prin_comps"]),
            random_state=self.seed,
            verbose=False,
        )
        return sample.obs["doublet_score"].to_numpy(dtype=float)[self.counts.shape[0] :]

    def own_state(self) -> dict:
        return {"gene_names": self.gene_names, "counts": self.counts, "seed": self.seed}


class ReconstructionErrorModel(DoubletModel):
    """The VAE's negative log-likelihood of the cell's counts at its posterior mean, per cell or per count."""

    def __init__(self, arch, params, vae, scale: str, final_metrics=None):
        super().__init__(arch, params, final_metrics)
        self.vae, self.scale = vae, scale

    def doublet_scores(self, adata: ad.AnnData) -> np.ndarray:
        network = self.vae.network

        def error(batch):
            counts, batch_index = batch["counts"], batch.get("batch")
            nll = -network.log_likelihood(counts, network.encode(counts, batch_index)[0], batch_index)
            return nll / counts.sum(dim=-1).clamp(min=1) if self.scale == "count" else nll

        return predict_batches(error, self.vae.fields(adata)).astype(float)

    def own_state(self) -> dict:
        return {"vae": model_state(self.vae), "scale": self.scale}


class DoubletClassifier(nn.Module):
    """SOLO's classifier: latent -> hidden (ReLU, dropout) -> the logit of 'doublet'."""

    def __init__(self, n_latent: int, n_hidden: int, dropout: float):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_latent, n_hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(n_hidden, 1)
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.layers(latent).squeeze(-1)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        logits = self(batch["latent"])
        return {"classification": nn.functional.binary_cross_entropy_with_logits(logits, batch["target"])}


class SoloModel(DoubletModel):
    """The classifier reads the vae's latent means, each dimension centred and scaled by the training rows (a VAE's
    latent may be far from unit scale: at 0.01 the classifier learnt nothing in its epochs)."""

    def __init__(self, arch, params, vae, network: DoubletClassifier, center, scale, final_metrics=None):
        super().__init__(arch, params, final_metrics)
        self.vae, self.network = vae, network.eval()
        self.center, self.scale = np.asarray(center, dtype=np.float32), np.asarray(scale, dtype=np.float32)

    def features(self, adata: ad.AnnData) -> np.ndarray:
        return ((self.vae.embed(adata) - self.center) / self.scale).astype(np.float32)

    def doublet_scores(self, adata: ad.AnnData) -> np.ndarray:
        with torch.no_grad():
            return torch.sigmoid(self.network(torch.as_tensor(self.features(adata)))).numpy().astype(float)

    def own_state(self) -> dict:
        state = {"center": self.center, "scale": self.scale, "state_dict": self.network.state_dict()}
        return {"vae": model_state(self.vae), **state}


def simulated_doublets(adata: ad.AnnData, gene_names, ratio: float, rng: np.random.Generator) -> ad.AnnData:
    """``ratio`` times as many doublets as ``adata`` has cells, each the sum of two of its cells' counts."""
    counts = model_counts(adata, gene_names)
    first, second = random_pairs(adata.n_obs, round(ratio * adata.n_obs), rng)
    doublets = ad.AnnData(sp.csr_matrix(sum_pairs(counts, first, second), dtype=np.float32))
    doublets.var_names, doublets.layers["counts"] = list(gene_names), doublets.X
    return doublets


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str, models=None) -> Setup:
    """``adata``: the training and validation cells; their doublet labels are read for the validation cells only."""
    split = split_of(adata, spec.where)
    labels = adata.obs[spec.labels].astype(str).to_numpy()
    if arch == "library_size":
        candidates = {measure: LibrarySizeModel(arch, params, measure) for measure in params["measures"]}
        return Setup(None, {}, lambda _: _best_on_validation(arch, candidates, adata, labels, split))
    if arch == "scrublet":

        def fit_scrublet(_) -> ScrubletModel:
            # fitted on the training cells; the validation cells are scored in one sample with them
            train = adata[split == TRAIN]
            counts = model_counts(train, list(adata.var_names))
            return ScrubletModel(arch, params, adata.var_names, counts, seed).validated(adata, labels, split)

        return Setup(None, {}, fit_scrublet)
    vae = models["vae"]
    if arch == "recon_error":
        candidates = {f"per {scale}": ReconstructionErrorModel(arch, params, vae, scale) for scale in params["scales"]}
        return Setup(None, {}, lambda _: _best_on_validation(arch, candidates, adata, labels, split))
    if arch != "solo":
        raise LifedlError(f"lifedl.models.doublets has no detector '{arch}'.")
    rng = np.random.default_rng(seed)
    latents, targets, splits = [], [], []
    for name in (TRAIN, VALIDATION):  # each split's doublets drawn from its own cells: validation stays unseen
        cells = adata[split == name]
        doublets = simulated_doublets(cells, vae.gene_names, params["doublet_ratio"], rng)
        for part, target in ((cells, 0.0), (doublets, 1.0)):
            latents.append(vae.embed(part))
            targets.append(np.full(part.n_obs, target, dtype=np.float32))
            splits.append(np.full(part.n_obs, name))
    latent, split_of_rows = np.concatenate(latents), np.concatenate(splits)
    training = latent[split_of_rows == TRAIN]
    center, scale = training.mean(axis=0), training.std(axis=0) + 1e-6
    arrays = {"latent": ((latent - center) / scale).astype(np.float32), "target": np.concatenate(targets)}
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        network = DoubletClassifier(arrays["latent"].shape[1], params["n_hidden"], params["dropout"])
    print(f"{arch}: {int(arrays['target'].sum())} simulated doublets beside {int((1 - arrays['target']).sum())} cells")

    def finish(result: FitResult) -> SoloModel:
        model = SoloModel(arch, params, vae, network, center, scale, result.metrics)
        return model.validated(adata, labels, split)

    return Setup(network=network, arrays=arrays, finish=finish, split=split_of_rows)


def from_checkpoint(checkpoint: dict) -> DoubletModel:
    arch, params, metrics = checkpoint["arch"], checkpoint["params"], checkpoint["final_metrics"]
    if arch == "library_size":
        return LibrarySizeModel(arch, params, checkpoint["measure"], metrics)
    if arch == "scrublet":
        counts, genes = checkpoint["counts"], checkpoint["gene_names"]
        return ScrubletModel(arch, params, genes, counts, checkpoint["seed"], metrics)
    vae = model_from_state(checkpoint["vae"])
    if arch == "recon_error":
        return ReconstructionErrorModel(arch, params, vae, checkpoint["scale"], metrics)
    network = DoubletClassifier(int(vae.params["n_latent"]), params["n_hidden"], params["dropout"])
    network.load_state_dict(checkpoint["state_dict"])
    return SoloModel(arch, params, vae, network, checkpoint["center"], checkpoint["scale"], metrics)
