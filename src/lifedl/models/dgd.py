"""The deep generative decoder (DGD; Schuster & Krogh 2021, arXiv 2110.06672).

There is no encoder. Each training cell's representation z_i is a free parameter, found
with the decoder by maximising the joint posterior (MAP)

    sum_i [log NB(x_i | decoder(z_i), library size_i) + log p(z_i | mixture)] + log p(mixture),

where p(z | mixture) is a learned Gaussian mixture (``lifedl.nn.mixture``) whose means,
variances and weights have their own hyper-priors. Per cell, the loss is
``reconstruction`` (-log NB) plus ``prior`` (-log p(z_i) - log p(mixture) / n_train_cells, so
that the hyper-prior counts once over the training set, not once per cell as in the
authors' code).

As in the authors' training loop, the decoder and the mixture take one Adam step per
minibatch, while each representation, seen once per epoch, takes one Adam step per
epoch (its gradient accumulated over the epoch): stepping an Adam over all
representations every minibatch would move the rows not in the batch through their
momentum. Held-out cells get representations of their own, optimised the same way with
the decoder and the mixture fixed; their loss is ``val/loss`` (early stopping). A cell
never seen in training is embedded the paper's way: start at the component mean that
explains it best, then ``embed_steps`` Adam steps on its representation alone.

The decoder (Linear-ReLU blocks, no normalisation or dropout, as in the paper) gives
each gene's share of the counts (softmax) times the cell's library size, with a learned
per-gene NB inverse dispersion: the VAE's output model, so their held-out likelihoods
compare like with like. (The paper's PBMC model scales a sigmoid by the cell's largest
count instead.) An experimental batch column, where the data set has one, is not used.
"""

from __future__ import annotations

import math

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn

from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel, network_state
from lifedl.nn.likelihoods import nb_log_likelihood_per_cell
from lifedl.nn.mixture import GaussianMixturePrior
from lifedl.nn.optim import adam, frozen
from lifedl.nn.sampling import draw_counts, sample_library_sizes
from lifedl.pp.counts import model_counts

# Adam's (beta1, beta2) in the authors' code: a representation gets one step per epoch, so long
# gradient averages would mostly remember stale decoders.
ADAM_BETAS = (0.5, 0.7)
EMBED_CHUNK_CELLS = 2048  # cells whose representations are optimised together (memory, not results)
MIXTURE_KEYS = (
    "n_components",
    "covariance",
    "softball_radius",
    "softball_sharpness",
    "initial_sd",
    "log_var_prior_sd",
    "dirichlet_alpha",
)


class DGD(nn.Module):
    """Decoder z -> NB parameters, and the Gaussian-mixture distribution over z."""

    def __init__(self, n_genes: int, n_latent: int = 20, n_hidden: int = 100, n_layers: int = 3, **mixture):
        super().__init__()
        if n_layers < 1 or n_hidden < 1:
            raise LifedlError(
                f"the DGD decoder needs n_layers >= 1 and n_hidden >= 1, got {n_layers} and {n_hidden}; "
                "fix params.dgd in config/config.yaml."
            )
        layers: list[nn.Module] = []
        for i in range(n_layers):
            layers += [nn.Linear(n_latent if i == 0 else n_hidden, n_hidden), nn.ReLU()]
        self.decoder = nn.Sequential(*layers, nn.Linear(n_hidden, n_genes))
        self.log_theta = nn.Parameter(torch.zeros(n_genes))  # per-gene NB inverse dispersion
        self.mixture = GaussianMixturePrior(n_latent=n_latent, **mixture)
        self.n_latent = n_latent

    def decoder_parameters(self) -> list[nn.Parameter]:
        return [*self.decoder.parameters(), self.log_theta]

    def mean_counts(self, z: torch.Tensor, library_size: torch.Tensor) -> torch.Tensor:
        """Expected counts: each gene's share (softmax of the decoder's logits) times the library size, in
        float32 (lgamma and log lose too much in bf16), as in the VAE."""
        logits = self.decoder(z)
        with torch.autocast(device_type=z.device.type, enabled=False):
            return torch.softmax(logits.float(), dim=-1) * library_size.float()

    def log_likelihood(
        self, counts: torch.Tensor, z: torch.Tensor, nonzero: torch.Tensor | None = None
    ) -> torch.Tensor:
        """log p(x | z) per cell: the full NB value, lgamma(x + 1) included (the VAE's held-out measure).
        ``nonzero``: the counts' stored coordinates where the caller has them (nb_log_likelihood_per_cell)."""
        mu = self.mean_counts(z, counts.sum(dim=-1, keepdim=True))
        with torch.autocast(device_type=counts.device.type, enabled=False):
            return nb_log_likelihood_per_cell(counts.float(), mu, torch.exp(self.log_theta.float()), nonzero)

    def loss_per_cell(
        self, counts: torch.Tensor, z: torch.Tensor, n_cells: int | None, nonzero: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Per cell: ``reconstruction`` = -log p(x | z) and ``prior`` = -log p(z) - log p(mixture) / n_cells,
        the hyper-prior's share when the mixture is learned from ``n_cells`` cells (None: the mixture is fixed)."""
        reconstruction = -self.log_likelihood(counts, z, nonzero)
        with torch.autocast(device_type=counts.device.type, enabled=False):
            prior = -self.mixture.log_prob(z.float())
            if n_cells is not None:
                prior = prior - self.mixture.hyperprior_log_prob() / n_cells
        return {"reconstruction": reconstruction, "prior": prior}


class DGDModel(TrainedModel):
    def __init__(self, arch: str, network: DGD, gene_names, params: dict, final_metrics: dict | None = None):
        self.arch, self.network = arch, network.eval()
        self.gene_names, self.params = list(gene_names), dict(params)
        self.final_metrics = dict(final_metrics or {})

    def test_scores(self, test: ad.AnnData, training: ad.AnnData, seed: int = 0) -> dict[str, float]:
        """The DGD's own measure on the test cells, not a bound on log p(x) and not the VAEs' IWAE: each cell's
        representation is fitted to that cell's counts (embed), then log p(x | z*) and log p_GMM(z*) there."""
        counts = model_counts(test, self.gene_names)
        z, _ = self.fit_representations(counts)
        with torch.no_grad():
            z = torch.from_numpy(z)
            log_likelihood = self.network.log_likelihood(torch.from_numpy(counts.toarray()), z)
            log_density = self.network.mixture.log_prob(z)
        return {
            "test_loglik_fitted_z_per_cell": float(log_likelihood.mean()),
            "test_gmm_log_density_per_cell": float(log_density.mean()),
        }

    def fit_representations(self, counts: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """MAP representations of cells with the decoder and mixture fixed, and the mean loss per cell
        before each Adam step and after the last (``embed_steps + 1`` values).

        Adam works element-wise and each cell's loss depends only on its own representation, so
        optimising cells in chunks gives each cell the result it would get alone.
        """
        if counts.shape[0] == 0:
            raise LifedlError("no cells to embed: the AnnData has zero cells.")
        steps = self.params["embed_steps"]
        # Adam moves every coordinate by about its learning rate per step, whatever the gradient's size, so the
        # step is set in units of the mixture's own scale (its components' standard deviation, weight-averaged):
        # the same setting then suits any trained model, however tight its components became.
        with torch.no_grad():
            mixture = self.network.mixture
            sd = torch.exp(0.5 * mixture.log_var).expand(mixture.n_components, mixture.n_latent).mean(dim=-1)
            rate = self.params["embed_step_size"] * float((torch.softmax(mixture.weight_logits, 0) * sd).sum())
        representations, loss_sums = [], np.zeros(steps + 1)
        for start in range(0, counts.shape[0], EMBED_CHUNK_CELLS):
            x = torch.from_numpy(counts[start : start + EMBED_CHUNK_CELLS].toarray())
            nonzero = torch.nonzero(x).T  # found once: the chunk's counts stay as they are over its steps
            z = nn.Parameter(self._best_component_means(x, nonzero))
            optimiser = adam([z], lr=rate, betas=ADAM_BETAS)
            # embedding is an optimisation, even where a caller turned gradients off; the network is frozen so that
            # no step works out gradients for its parameters (the NB dispersion's digamma terms)
            with torch.enable_grad(), frozen(self.network):
                for step in range(steps + 1):
                    parts = self.network.loss_per_cell(x, z, None, nonzero)
                    loss = parts["reconstruction"] + parts["prior"]
                    loss_sums[step] += float(loss.detach().sum())
                    if step == steps:
                        break
                    # Gradients for the representations only: the decoder and mixture stay as trained.
                    (z.grad,) = torch.autograd.grad(loss.sum(), [z])
                    optimiser.step()
            representations.append(z.detach())
        return torch.cat(representations).numpy(), loss_sums / counts.shape[0]

    @torch.no_grad()
    def _best_component_means(self, x: torch.Tensor, nonzero: torch.Tensor) -> torch.Tensor:
        """Per cell, the mixture mean with the highest log p(x | mean) + log p(mean): the paper's start
        (``nonzero``: x's non-zero coordinates, shape (2, entries))."""
        means, theta = self.network.mixture.means, torch.exp(self.network.log_theta)
        library_size = x.sum(dim=-1, keepdim=True)
        log_likelihoods = torch.stack(
            [
                nb_log_likelihood_per_cell(x, self.network.mean_counts(mean[None], library_size), theta, nonzero)
                for mean in means
            ],
            dim=-1,
        )
        return means[(log_likelihoods + self.network.mixture.log_prob(means)).argmax(dim=-1)].clone()

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        return self.fit_representations(model_counts(adata, self.gene_names))[0]

    def components(self, z: np.ndarray) -> np.ndarray:
        """Index of the most likely mixture component (weight times density) of each representation."""
        with torch.no_grad():
            return self.network.mixture.most_likely_component(torch.as_tensor(z, dtype=torch.float32)).numpy()

    def annotate(self, adata: ad.AnnData) -> None:
        """obs['dgd_component']: each cell's most likely mixture component, from obsm['X_{arch}']."""
        key = f"X_{self.arch}"
        if key not in adata.obsm:
            raise LifedlError(
                f"annotate needs the DGD representations in obsm['{key}']; store model.embed(adata) there first."
            )
        components = self.components(adata.obsm[key])
        names = [str(k) for k in range(self.network.mixture.n_components) if k in set(components.tolist())]
        adata.obs["dgd_component"] = pd.Categorical([str(k) for k in components], categories=names)

    def sample(self, n_cells: int, library_sizes, seed: int = 0) -> np.ndarray:
        """Integer counts of ``n_cells`` new cells: z from the mixture, decoded, NB draws at ``library_sizes``."""
        library_sizes = sample_library_sizes(n_cells, library_sizes)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            z = self.network.mixture.sample(n_cells, generator)
            mu = self.network.mean_counts(z, torch.as_tensor(library_sizes, dtype=torch.float32)[:, None])
            theta = torch.exp(self.network.log_theta)
        return draw_counts(mu.numpy(), theta.numpy(), np.random.default_rng(seed))

    def own_state(self) -> dict:
        return network_state(self, self.network)


def _network(n_genes: int, params: dict) -> DGD:
    return DGD(
        n_genes,
        params["n_latent"],
        params["n_hidden"],
        params["n_layers"],
        **{key: params[key] for key in MIXTURE_KEYS},
    )


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "dgd") -> Setup:
    """The decoder and mixture; the representations are the training plan's (``lifedl.train.plans``)."""
    counts = model_counts(adata, what=spec.where)
    network = _network(adata.n_vars, params)

    def finish(result: FitResult) -> DGDModel:
        if not all(math.isfinite(value) for value in result.metrics.values()):
            raise LifedlError(f"{spec.where}: DGD training diverged ({result.metrics}); lower the learning rates.")
        return DGDModel(arch, network, adata.var_names, params, result.metrics)

    return Setup(network, {"counts": counts}, finish)


def from_checkpoint(checkpoint: dict) -> DGDModel:
    network = _network(len(checkpoint["gene_names"]), checkpoint["params"])
    network.load_state_dict(checkpoint["state_dict"])
    return DGDModel(
        checkpoint["arch"], network, checkpoint["gene_names"], checkpoint["params"], checkpoint["final_metrics"]
    )
