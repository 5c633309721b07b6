"""The VAE family on counts: scVI/scVAE's VAE, LDVAE and VEGA, with any of four likelihoods.

- ``vae``: MLP decoder (scVI; scVAE's likelihood comparison).
- ``ldvae``: linear decoder (Svensson et al. 2020): gene logits = W z + b, so W (genes x
  latent) are interpretable loadings.
- ``vega``: masked linear decoder (Seninge et al. 2021): latent dimension p reaches only
  the genes of gene program p, so each dimension is that program's activity.

Count likelihoods (nb, zinb, poisson) decode each gene's share of the cell's counts
(softmax of the logits) times the observed library size; ``gaussian`` decodes
log-normalised expression directly. Where the data set has a batch column, encoder
and decoder are conditioned on the one-hot batch, as in scVI.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import torch
from torch import nn

from lifedl.data.batches import nonzero_key, predict_batches
from lifedl.data.programs import dataset_programs, program_mask
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel, category_codes, network_state
from lifedl.nn.bounds import importance_weighted_bound
from lifedl.nn.layers import TARGET_SUM, GaussianEncoder, MaskedLinear, log_normalise_tensor, mlp
from lifedl.nn.likelihoods import get_likelihood, kl_to_standard_normal
from lifedl.nn.sampling import draw_counts, sample_library_sizes
from lifedl.pp.counts import model_counts

DECODERS = {"vae": "mlp", "ldvae": "linear", "vega": "masked"}
IWAE_SAMPLES = 100  # importance samples per test cell for the IWAE bound (scVI's marginal log-likelihood: 1,000)


class VAE(nn.Module):
    def __init__(
        self,
        n_genes: int,
        n_latent: int = 10,
        n_hidden: int = 128,
        n_layers: int = 1,
        dropout: float = 0.1,
        likelihood: str = "nb",
        decoder: str = "mlp",
        n_batches: int = 0,
        mask: torch.Tensor | None = None,
        positive_decoder: bool = False,
    ):
        super().__init__()
        self.likelihood, self.decoder_kind, self.n_batches = get_likelihood(likelihood), decoder, n_batches
        self.encoder = GaussianEncoder(n_genes + n_batches, n_latent, n_hidden, n_layers, dropout)
        if decoder == "mlp":
            self.decoder_body = mlp(n_latent + n_batches, n_hidden, n_layers, dropout)
            self.decoder_out = nn.Linear(n_hidden, n_genes)
            head_in = n_hidden
        else:
            self.decoder_body = nn.Identity()
            self.decoder_out = (
                nn.Linear(n_latent, n_genes) if decoder == "linear" else MaskedLinear(mask, positive_decoder)
            )
            # The batch enters a linear decoder as an additive per-gene offset, keeping W interpretable.
            self.batch_offset = nn.Linear(n_batches, n_genes, bias=False) if n_batches else None
            head_in = n_latent
        self.zero_logits = nn.Linear(head_in, n_genes) if self.likelihood.zero_inflated else None
        # Per-gene inverse dispersion (nb, zinb) or log-variance (gaussian).
        self.gene_parameter = nn.Parameter(torch.zeros(n_genes))

    def _one_hot(self, batch_index: torch.Tensor | None) -> torch.Tensor:
        return nn.functional.one_hot(batch_index, self.n_batches).float()

    def _input(self, counts: torch.Tensor) -> torch.Tensor:
        return torch.log1p(counts) if self.likelihood.on_counts else log_normalise_tensor(counts)

    def encode(
        self, counts: torch.Tensor, batch_index: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._input(counts)
        if self.n_batches:
            x = torch.cat([x, self._one_hot(batch_index)], dim=-1)
        return self.encoder(x)

    def decode(
        self, z: torch.Tensor, batch_index: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Gene logits (softmax -> share of counts; or the gaussian mean) and, for zinb, zero logits."""
        if self.decoder_kind == "mlp":
            hidden = self.decoder_body(torch.cat([z, self._one_hot(batch_index)], -1) if self.n_batches else z)
            logits = self.decoder_out(hidden)
        else:
            hidden = z
            logits = self.decoder_out(z)
            if self.batch_offset is not None:
                logits = logits + self.batch_offset(self._one_hot(batch_index))
        zero_logits = self.zero_logits(hidden) if self.zero_logits is not None else None
        return logits, zero_logits

    def log_likelihood(
        self,
        counts: torch.Tensor,
        z: torch.Tensor,
        batch_index: torch.Tensor | None,
        nonzero: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """log p(x | z) per cell, in float32 (lgamma and log lose too much in bf16); ``nonzero``: the counts'
        stored coordinates where the batch has them (data.batches.stored_coordinates)."""
        logits, zero_logits = self.decode(z, batch_index)
        with torch.autocast(device_type=counts.device.type, enabled=False):
            counts, logits = counts.float(), logits.float()
            if self.likelihood.on_counts:
                x, mean = counts, torch.softmax(logits, dim=-1) * counts.sum(dim=-1, keepdim=True)
            else:
                x, mean = log_normalise_tensor(counts), logits
            zero_logits = None if zero_logits is None else zero_logits.float()
            return self.likelihood.log_prob(x, mean, self.gene_parameter.float(), zero_logits, nonzero)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Negative ELBO per cell (averaged over the batch) in named parts: reconstruction and kl.

        Fields: ``counts``, and ``batch`` (each cell's experimental batch) where the model is batch-conditioned."""
        counts, batch_index = batch["counts"], batch.get("batch")
        mean, log_var = self.encode(counts, batch_index)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var) if self.training else mean
        reconstruction = -self.log_likelihood(counts, z, batch_index, batch.get(nonzero_key("counts"))).mean()
        kl = kl_to_standard_normal(mean.float(), log_var.float()).mean()
        return {"reconstruction": reconstruction, "kl": kl}

    @torch.no_grad()
    def importance_weighted_scores(self, batch: dict[str, torch.Tensor], n_samples: int) -> torch.Tensor:
        """Per cell: the IWAE bound on log p(x | library size) with ``n_samples`` draws, and the ELBO."""
        counts, batch_index = batch["counts"], batch.get("batch")
        mean, log_var = self.encode(counts, batch_index)

        def log_likelihood(z: torch.Tensor) -> torch.Tensor:
            k, n = z.shape[:2]
            repeated = None if batch_index is None else batch_index.repeat(k)
            return self.log_likelihood(counts.repeat(k, 1), z.reshape(k * n, -1), repeated).reshape(k, n)

        return torch.stack(importance_weighted_bound(log_likelihood, mean, log_var, n_samples), dim=-1)

    def loadings(self) -> torch.Tensor:
        """Genes x latent weights of a linear or masked decoder."""
        if self.decoder_kind == "mlp":
            raise LifedlError("an MLP decoder has no loadings; use ldvae or vega")
        out = self.decoder_out
        return (out.effective_weight() if isinstance(out, MaskedLinear) else out.weight).detach()


class VAEModel(TrainedModel):
    def __init__(
        self, arch, network, gene_names, params, batch_key="", batch_categories=(), programs=(), final_metrics=None
    ):
        self.arch, self.network = arch, network.eval()
        self.gene_names, self.params = list(gene_names), dict(params)
        self.batch_key, self.batch_categories = batch_key, list(batch_categories)
        self.programs = list(programs)
        self.final_metrics = dict(final_metrics or {})

    def fields(self, adata: ad.AnnData) -> dict[str, object]:
        """The network's fields of any cells measured on the model's genes: counts, and batch if conditioned."""
        arrays: dict[str, object] = {"counts": model_counts(adata, self.gene_names)}
        if self.batch_categories:
            arrays["batch"] = batch_codes(adata, self.batch_key, self.batch_categories)
        return arrays

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        return self.embed_fields(self.fields(adata))

    def embed_fields(self, fields: dict[str, object]) -> np.ndarray:
        """The latent means of cells given as the network's fields (counts may be on disk: ShardedCounts)."""
        return predict_batches(lambda batch: self.network.encode(batch["counts"], batch.get("batch"))[0], fields)

    def test_scores(self, test: ad.AnnData, training: ad.AnnData, seed: int = 0) -> dict[str, float]:
        """On the data set's test cells: the IWAE bound on log p(x | library size) per cell (IWAE_SAMPLES draws,
        as scVI's marginal log-likelihood) and the ELBO from the same draws."""
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            scores = predict_batches(
                lambda batch: self.network.importance_weighted_scores(batch, IWAE_SAMPLES), self.fields(test), 64
            )
        return {
            "test_iwae_per_cell": float(scores[:, 0].mean()),
            "test_elbo_per_cell": float(scores[:, 1].mean()),
            "iwae_samples": float(IWAE_SAMPLES),
        }

    def annotate(self, adata: ad.AnnData) -> None:
        """What the model adds to an embedding's AnnData besides obsm['X_{arch}']."""
        if self.network.decoder_kind != "mlp":
            adata.varm[f"loadings_{self.arch}"] = self.network.loadings().numpy()
        if self.programs:
            adata.uns[f"{self.arch}_programs"] = np.array(self.programs, dtype=object)

    def decode_expression(self, z: np.ndarray, batch_code: int = 0) -> np.ndarray:
        """Expected log-normalised expression (log1p of counts per 1e4) at latent points ``z``."""
        with torch.no_grad():
            z = torch.as_tensor(z, dtype=torch.float32)
            logits, _ = self.network.decode(z, torch.full((len(z),), batch_code, dtype=torch.long))
            if not self.network.likelihood.on_counts:
                return logits.numpy()
            return torch.log1p(torch.softmax(logits, -1) * TARGET_SUM).numpy()

    def sample(self, n_cells: int, library_sizes, seed: int = 0) -> np.ndarray:
        """Integer counts of ``n_cells`` generated cells: z ~ N(0, I), decoded (in the first batch where the
        model is batch-conditioned), drawn from the count likelihood at ``library_sizes`` (one or one per cell)."""
        generator = torch.Generator().manual_seed(seed)
        z = torch.randn(n_cells, self.network.encoder.mean.out_features, generator=generator)
        return self.counts_from_latent(z, library_sizes, seed)

    def counts_from_latent(self, z: torch.Tensor, library_sizes, seed: int = 0) -> np.ndarray:
        """Integer counts of the cells at latent points ``z`` (one row per cell): decoded (in the first batch where
        the model is batch-conditioned), drawn from the count likelihood at ``library_sizes`` (one or one per
        cell). The VAE's prior samples, and a latent diffusion model's (lifedl.models.diffusion)."""
        if not self.network.likelihood.on_counts:
            raise LifedlError(
                f"'{self.arch}' was trained with the gaussian likelihood on log-normalised expression; "
                "generating counts needs a count likelihood (nb, zinb or poisson)."
            )
        n_cells = len(z)
        sizes = sample_library_sizes(n_cells, library_sizes)
        with torch.no_grad():
            logits, zero_logits = self.network.decode(z, torch.zeros(n_cells, dtype=torch.long))
            mu = (torch.softmax(logits.float(), -1) * torch.as_tensor(sizes, dtype=torch.float32)[:, None]).numpy()
            theta = self.network.likelihood.theta(self.network.gene_parameter)
            theta = None if theta is None else theta.numpy()
            zero_probability = None if zero_logits is None else torch.sigmoid(zero_logits.float()).numpy()
        return draw_counts(mu, theta, np.random.default_rng(seed), zero_probability)

    def own_state(self) -> dict:
        return network_state(
            self,
            self.network,
            batch_key=self.batch_key,
            batch_categories=self.batch_categories,
            programs=self.programs,
            mask=None if self.network.decoder_kind != "masked" else self.network.decoder_out.mask.numpy(),
        )


def vae_network(n_genes: int, params: dict, decoder: str, n_batches: int, mask: np.ndarray | None) -> VAE:
    network_params = {k: params[k] for k in ("n_hidden", "n_layers", "dropout", "likelihood")}
    network_params["n_latent"] = params["n_latent"] if mask is None else mask.shape[1]
    return VAE(
        n_genes,
        decoder=decoder,
        n_batches=n_batches,
        mask=None if mask is None else torch.as_tensor(mask),
        positive_decoder=params.get("positive_decoder", False),  # vega's; checkpoints from before it had none
        **network_params,
    )


def _programs(adata: ad.AnnData, params: dict, source: str) -> tuple[list[str], np.ndarray]:
    """VEGA's programs: those the download rule stored with the data, else params.gmt (default: PBMC markers)."""
    return program_mask(dataset_programs(adata, params["gmt"]), list(adata.var_names), params["min_genes"], source)


def batch_categories(adata: ad.AnnData, batch_key: str, where: str = "the data") -> list[str]:
    """The experimental batches to condition on: none without a batch column or with a single batch. A cell
    without a batch is an error (its NaN became a batch named 'nan')."""
    if not batch_key:
        return []
    missing = adata.obs[batch_key].isna().to_numpy()
    if missing.any():
        raise LifedlError(
            f"{where}: {int(missing.sum())} cell(s) without a batch in obs['{batch_key}'] (the batch role; first: "
            f"'{adata.obs_names[missing][0]}'); give every cell its batch (e.g. 'unknown' where that is one batch) "
            "or drop those cells."
        )
    categories = sorted(adata.obs[batch_key].astype(str).unique())
    return categories if len(categories) > 1 else []


def batch_codes(adata: ad.AnnData, batch_key: str, categories: list[str]) -> np.ndarray:
    """Each cell's batch as its code among a model's ``categories``; a missing column or unseen batch is an error."""
    if batch_key not in adata.obs:
        raise LifedlError(
            f"the cells lack obs column '{batch_key}', the batch the model is conditioned on (one of {categories}); "
            f"add it, one of those batches per cell (to a table to embed: a column '{batch_key}')."
        )
    return category_codes(adata.obs[batch_key], categories, f"the batches in obs['{batch_key}']")


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "vae") -> Setup:
    decoder = DECODERS[arch]
    counts = model_counts(adata, what=spec.where)
    categories = batch_categories(adata, spec.batch, spec.where)
    arrays: dict[str, object] = {"counts": counts}
    if categories:
        arrays["batch"] = batch_codes(adata, spec.batch, categories)
    programs, mask = _programs(adata, params, spec.where) if decoder == "masked" else ([], None)
    network = vae_network(adata.n_vars, params, decoder, len(categories), mask)

    def finish(result: FitResult) -> VAEModel:
        metrics = result.metrics
        batch_key = spec.batch if categories else ""
        return VAEModel(arch, network, adata.var_names, params, batch_key, categories, programs, metrics)

    return Setup(network, arrays, finish)


def from_checkpoint(checkpoint: dict) -> VAEModel:
    arch = checkpoint["arch"]
    network = vae_network(
        len(checkpoint["gene_names"]),
        checkpoint["params"],
        DECODERS[arch],
        len(checkpoint["batch_categories"]),
        checkpoint["mask"],
    )
    network.load_state_dict(checkpoint["state_dict"])
    return VAEModel(
        arch,
        network,
        checkpoint["gene_names"],
        checkpoint["params"],
        checkpoint["batch_key"],
        checkpoint["batch_categories"],
        checkpoint["programs"],
        checkpoint["final_metrics"],
    )
