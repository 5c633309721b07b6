"""Latent diffusion on cells (seed 002's "other models"): a denoising diffusion model (DDPM, Ho et al. 2020;
lifedl.nn.diffusion) trained on the latent means of the ``vae`` of the same seed (frozen; latent diffusion,
Rombach et al. 2022), optionally conditioned on the cell type. A generated cell is a latent point drawn by the
reverse process, decoded by the VAE's decoder and drawn from its count likelihood at a library size of the
training cells (of its type where the model is conditioned).

It asks whether a better prior helps the VAE's samples: the VAE's own samples draw z from N(0, I), which the
encoder's aggregate posterior need not fill (seed 002: "VAEs give better latents, GANs better samples"). Its
samples are scored in the generator's realism table against the test cells and beside the GAN's and the VAE's in
the data set's realism table.
"""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
import torch

from lifedl.data.splits import TRAIN, split_of
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup, TrainedModel, category_codes, model_from_state, model_state
from lifedl.nn.diffusion import Denoiser, LatentDiffusion, NoiseSchedule
from lifedl.pp.counts import library_size_normalise, library_sizes, model_counts, scaled_cells

GENERATE_BATCH = 4096  # latent rows denoised at once


class LatentDiffusionModel(TrainedModel):
    """The frozen VAE, the denoiser, the training latents' centre and scale (the diffusion runs on standardised
    latents, as latent diffusion scales its latents to unit variance), and the training cells' library sizes with
    their types (a generated cell's depth is one of its type's)."""

    def __init__(
        self,
        arch: str,
        params: dict,
        vae,
        network: LatentDiffusion,
        center,
        scale,
        depths,
        depth_codes,
        cell_types: Sequence[str] = (),
        final_metrics: dict | None = None,
    ):
        self.arch, self.params, self.vae, self.network = arch, dict(params), vae, network.eval()
        self.center, self.scale = np.asarray(center, dtype=np.float32), np.asarray(scale, dtype=np.float32)
        self.depths, self.depth_codes = np.asarray(depths, dtype=np.float64), np.asarray(depth_codes, dtype=np.int64)
        self.cell_types = list(cell_types)
        self.final_metrics = dict(final_metrics or {})

    @property
    def gene_names(self) -> list[str]:
        return self.vae.gene_names

    @property
    def conditional(self) -> bool:
        return bool(self.cell_types)

    def _codes(self, n_cells: int, cell_types: Sequence[str] | None, rng: np.random.Generator) -> np.ndarray:
        """Each generated cell's type code: given, or drawn in the training cells' proportions (0 if unconditioned)."""
        if cell_types is None:
            if not self.conditional:
                return np.zeros(n_cells, dtype=np.int64)
            return rng.choice(self.depth_codes, size=n_cells)  # one training cell's type each: its proportions
        if not self.conditional:
            raise LifedlError(
                f"this {self.arch} model was trained without cell types (conditional: false); generate without "
                f"cell_types, or retrain with params.{self.arch}.conditional: true and a 'labels' column."
            )
        if len(cell_types) != n_cells:
            raise LifedlError(f"cell_types has {len(cell_types)} entries for {n_cells} cells; give one type per cell.")
        return category_codes(cell_types, self.cell_types, "cell types")

    def latent_samples(self, codes: np.ndarray, seed: int) -> torch.Tensor:
        """One latent point of the VAE per code, drawn by the reverse process and put back on the VAE's scale."""
        generator = torch.Generator().manual_seed(seed)
        chunks = []
        for start in range(0, len(codes), GENERATE_BATCH):
            part = torch.as_tensor(codes[start : start + GENERATE_BATCH])
            chunks.append(self.network.sample(len(part), part if self.conditional else None, generator))
        standardised = torch.cat(chunks).cpu()
        return standardised * torch.as_tensor(self.scale) + torch.as_tensor(self.center)

    def _depths(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A training cell's library size for each generated cell, of the same type where conditioned."""
        if not self.conditional:
            return rng.choice(self.depths, size=len(codes))
        return np.array([rng.choice(self.depths[self.depth_codes == code]) for code in codes])

    def sample(self, n_cells: int, library_sizes, seed: int = 0) -> np.ndarray:
        """Integer counts of ``n_cells`` cells at ``library_sizes`` (the realism table's prior samples: its latent
        points in place of the VAE's N(0, I) draws; types in the training proportions where conditioned)."""
        codes = self._codes(n_cells, None, np.random.default_rng(seed))
        return self.vae.counts_from_latent(self.latent_samples(codes, seed), library_sizes, seed)

    def generate(self, n_cells: int, seed: int = 0, cell_types: Sequence[str] | None = None) -> ad.AnnData:
        """``n_cells`` new cells on the real cells' scale (``prepare``), the same for the same seed, at library sizes
        of the training cells; obs['cell_type'] where the model is conditioned (``cell_types``: one per cell, or
        drawn in the training proportions)."""
        if n_cells < 1:
            raise LifedlError(f"generate() needs n_cells >= 1, got {n_cells}.")
        rng = np.random.default_rng(seed)
        codes = self._codes(n_cells, cell_types, rng)
        counts = self.vae.counts_from_latent(self.latent_samples(codes, seed), self._depths(codes, rng), seed)
        obs = pd.DataFrame(index=pd.Index([f"generated_{i}" for i in range(n_cells)], dtype=str))
        if self.conditional:
            obs["cell_type"] = pd.Categorical.from_codes(codes, categories=self.cell_types)
        return ad.AnnData(
            X=library_size_normalise(counts, self.params["library_size"]).toarray(),
            obs=obs,
            var=pd.DataFrame(index=pd.Index(self.gene_names, dtype=str)),
        )

    def prepare(self, adata: ad.AnnData) -> ad.AnnData:
        """Real cells on the generated cells' scale, the one scGAN's cells are compared on (lifedl.pp.counts)."""
        return scaled_cells(adata, self.gene_names, self.params["library_size"])

    def own_state(self) -> dict:
        return {
            "vae": model_state(self.vae),
            "state_dict": self.network.state_dict(),
            "center": self.center,
            "scale": self.scale,
            "depths": self.depths,
            "depth_codes": self.depth_codes,
            "cell_types": self.cell_types,
        }


def _network(params: dict, n_latent: int, n_classes: int) -> LatentDiffusion:
    schedule = NoiseSchedule(params["n_steps"], params["beta_start"], params["beta_end"])
    return LatentDiffusion(schedule, Denoiser(n_latent, params["n_hidden"], params["n_layers"], n_classes))


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str, models=None) -> Setup:
    """``adata``: the training and validation cells, encoded by the frozen ``vae`` (its latent means)."""
    vae = models["vae"]
    if not vae.network.likelihood.on_counts:
        raise LifedlError(
            f"{arch} decodes its latent points to counts through the vae, which was trained with the gaussian "
            "likelihood; train the vae with a count likelihood (params.vae.likelihood: nb, zinb or poisson)."
        )
    cell_types: list[str] = []
    codes = np.zeros(adata.n_obs, dtype=np.int64)
    if params["conditional"]:
        if not spec.labels:
            raise LifedlError(
                f"{arch} with conditional: true needs the cell types: this data set has no 'labels' column; set "
                f"params.{arch}.conditional: false or name the labels in config/datasets.tsv."
            )
        labels = adata.obs[spec.labels].astype(str).to_numpy()
        cell_types = sorted(set(labels))
        codes = category_codes(labels, cell_types, "cell types")
    split = split_of(adata, spec.where)
    latent = vae.embed(adata).astype(np.float32)
    training = latent[split == TRAIN]
    center, scale = training.mean(axis=0), training.std(axis=0) + 1e-6
    arrays = {"latent": (latent - center) / scale}
    if cell_types:
        arrays["label"] = codes
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        network = _network(params, latent.shape[1], len(cell_types))
    depths = library_sizes(model_counts(adata[split == TRAIN], vae.gene_names))
    print(
        f"{arch}: {int((split == TRAIN).sum())} training latents of {latent.shape[1]} dimensions, "
        f"{params['n_steps']} noise steps{', conditioned on ' + str(len(cell_types)) + ' cell types' if cell_types else ''}",
        flush=True,
    )

    def finish(result: FitResult) -> LatentDiffusionModel:
        return LatentDiffusionModel(
            arch, params, vae, network, center, scale, depths, codes[split == TRAIN], cell_types, result.metrics
        )

    return Setup(network=network, arrays=arrays, finish=finish)


def from_checkpoint(checkpoint: dict) -> LatentDiffusionModel:
    params, vae = checkpoint["params"], model_from_state(checkpoint["vae"])
    network = _network(params, len(checkpoint["center"]), len(checkpoint["cell_types"]))
    network.load_state_dict(checkpoint["state_dict"])
    return LatentDiffusionModel(
        checkpoint["arch"],
        params,
        vae,
        network,
        checkpoint["center"],
        checkpoint["scale"],
        checkpoint["depths"],
        checkpoint["depth_codes"],
        checkpoint["cell_types"],
        checkpoint["final_metrics"],
    )
