"""Architecture registry: config selects models by these names, and the workflow reads it.

Adding an architecture means one module (``setup(adata, params, spec, seed)`` and
``from_checkpoint(checkpoint)``, see ``lifedl.models.base``) and one entry here: its default
hyper-parameters, the data kind it reads, its task (which rules follow training), the training
plan that trains it, the baseline it is compared with and its figures (``lifedl.figures``).
Entries import their module only when used, so reading the registry (Snakemake does it when
parsing the workflow) costs nothing.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

from lifedl.errors import LifedlError
from lifedl.tl.tasks import TASKS  # what the workflow does after training, per task

# Run beside every batch-aware architecture on a data set with batches, as PCA runs beside every cell model.
BATCH_BASELINES = ("pca_harmony", "pca_combat")
# The data kinds a kind also feeds besides its own: the RNA of CITE-seq cells is cells data.
ALSO_FEEDS = {"cells+protein": ("cells",)}
# Training plans (lifedl.train.plans): generic (one optimiser, early stopping on val/loss), dgd, gan, agent
# (reinforcement learning: the agent makes its own data), none (no loop).
PLANS = ("generic", "dgd", "gan", "agent", "none")
# What an architecture offers beyond its task, declared on its entry: the workflow adds rules, tables and figures
# for it (no architecture names in the rules, no guessing from methods or hyper-parameters).
CAPABILITIES = {
    "prior_samples": "cells sampled from its prior are scored for realism beside the GAN's (seed 002)",
    "gene_programs": "its latent dimensions are named gene programs: where each is most active is tabulated",
    "loadings": "a linear decoder: its factors' top-loading genes are tested against the gene programs, beside PCA's",
    "motif_filters": "its first-layer filters are letter motifs, matched to the motif database",
    "gradient_norms": "its training logs gradient norms, clipped at its gradient_clip (figure gradient_norms)",
    "probability_draws": "predicts class probabilities as draws (dropout passes, posterior samples or ensemble "
    "members; one draw if deterministic): drawn in its data kind's calibration figure",
}


@dataclasses.dataclass(frozen=True)
class Architecture:
    name: str
    module: str
    summary: str
    defaults: Mapping[str, Any]
    data_kind: str = "cells"  # lifedl.data.spec.DATA_KINDS
    task: str = "representation"
    plan: str = "generic"
    baseline: str = "pca"  # the simple model it is compared with, on the same data and measures ("" = it is one)
    # the figures it is drawn in (names in lifedl.figures.FIGURES): each is drawn from the architectures naming it
    # that run on a data set, where there are as many as it needs (a three-model panel: three)
    figures: tuple[str, ...] = ()
    # dataset roles (datasets.tsv columns) that must be filled for a data set to run this architecture
    needs: tuple[str, ...] = ()
    # architectures whose trained models (same data set, the main seed) this one uses: trained before it
    uses_models: tuple[str, ...] = ()
    # corrects the cells it embeds together (ComBat, Harmony): no model that embeds one new cell alone, so no
    # MLflow pyfunc model is logged for it
    corrects_together: bool = False
    # conditions on the data set's batch column where there is one: the batch-correcting baselines
    # (BATCH_BASELINES) then run beside it
    batch_aware: bool = False
    # "" the workflow's environment; "peer": scvi-tools' own (lifedl.models.peers), so no pyfunc model that any
    # MLflow client could load without it
    environment: str = ""
    # run when config leaves 'architectures' out (make run); the others run with `architectures: all` (make reproduce)
    default_run: bool = True
    capabilities: frozenset[str] = frozenset()  # names in CAPABILITIES
    # other models it is compared with over seeds, besides its task's baselines (a simpler variant; scvi-tools' peer)
    compared_with: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.capabilities) - set(CAPABILITIES))
        if unknown or self.task not in TASKS or self.plan not in PLANS:
            raise LifedlError(
                f"architecture '{self.name}': unknown capabilities {unknown}, task '{self.task}' or plan "
                f"'{self.plan}'; known: {sorted(CAPABILITIES)}, {list(TASKS)}, {list(PLANS)}."
            )

    def can(self, capability: str) -> bool:
        if capability not in CAPABILITIES:
            raise LifedlError(f"unknown capability '{capability}'; known: {sorted(CAPABILITIES)}.")
        return capability in self.capabilities

    @property
    def pyfunc_loadable(self) -> bool:
        """Whether its trained model embeds a new cell alone in lifedl's environment, so that MLflow logs it as a
        pyfunc model any client loads (not the batch corrections, nor the peers)."""
        return not self.corrects_together and not self.environment

    def reads(self, kind: str) -> bool:
        """Whether data of ``kind`` feeds this architecture (a cells+protein data set's RNA feeds cell models)."""
        return self.data_kind == kind or self.data_kind in ALSO_FEEDS.get(kind, ())

    def resolve_params(self, overrides: Mapping[str, Any] | None, where: str = "config") -> dict[str, Any]:
        """Defaults updated by ``overrides``; an unknown name is an error, not silently ignored."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise LifedlError(
                f"{where}: unknown hyper-parameter(s) {unknown} for architecture '{self.name}'; "
                f"known: {sorted(self.defaults)}."
            )
        for name, value in overrides.items():
            self._check_type(name, value, where)
            check_range(name, value, f"{where}: hyper-parameter '{name}' of '{self.name}'")
        resolved = {**self.defaults, **overrides}
        if "search" not in overrides and resolved.get("search"):  # a value set by hand is not searched over
            resolved["search"] = {name: values for name, values in resolved["search"].items() if name not in overrides}
        self._check_search(resolved.get("search") or {}, resolved, where)
        return resolved

    def _check_search(self, search: Mapping[str, Any], resolved: Mapping[str, Any], where: str) -> None:
        """A search grid ({name: [values]}, lifedl.train.plans.search_on_validation) names known hyper-parameters,
        lists valid values for each and says which final metric chooses."""
        for name, values in search.items():
            if name not in self.defaults or name.startswith("search"):
                raise LifedlError(
                    f"{where}: search names '{name}', which is not a hyper-parameter of '{self.name}'; "
                    f"known: {sorted(n for n in self.defaults if not n.startswith('search'))}."
                )
            if not isinstance(values, list) or not values:
                raise LifedlError(f"{where}: search.{name} of '{self.name}' must be a non-empty list, got {values!r}.")
            for value in values:
                self._check_type(name, value, f"{where}: search.{name}")
                check_range(name, value, f"{where}: search.{name} of '{self.name}'")
        for name, value in (resolved.get("search_trial") or {}).items():
            if name not in self.defaults or name.startswith("search"):
                raise LifedlError(f"{where}: search_trial names '{name}', not a hyper-parameter of '{self.name}'.")
            self._check_type(name, value, f"{where}: search_trial.{name}")
        if search and not resolved.get("search_metric"):
            raise LifedlError(f"{where}: a search for '{self.name}' needs search_metric (a validation final metric).")

    def _check_type(self, name: str, value: Any, where: str) -> None:
        expected = type(self.defaults[name])
        # an int is a valid float; a bool is not a valid int or float
        valid = isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
        valid = valid or (expected is float and isinstance(value, int) and not isinstance(value, bool))
        if not valid:
            raise LifedlError(
                f"{where}: hyper-parameter '{name}' of '{self.name}' must be of type {expected.__name__} "
                f"(default {self.defaults[name]!r}), got {value!r}."
            )

    def setup(self, adata, params: dict, spec, seed: int, models: Mapping[str, Any] | None = None):
        """The network, its fields' arrays and how to finish it (``lifedl.models.base.Setup``); ``models``: the
        trained models of the architectures in its ``uses_models``, by name."""
        module = importlib.import_module(self.module)
        if not self.uses_models:
            return module.setup(adata, params, spec, seed, self.name)
        missing = [name for name in self.uses_models if name not in (models or {})]
        if missing:
            raise LifedlError(
                f"{self.name} uses the trained model of {missing} on the same data set, but none was given; "
                f"train {missing} first and pass it (lifedl.fit(..., models={{'{missing[0]}': model}}))."
            )
        return module.setup(
            adata, params, spec, seed, self.name, models={name: models[name] for name in self.uses_models}
        )

    def from_checkpoint(self, checkpoint: dict):
        return importlib.import_module(self.module).from_checkpoint(checkpoint)


@dataclasses.dataclass(frozen=True)
class Range:
    """Allowed values of a hyper-parameter: an interval (``low``/``high``, each open or closed) or choices."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()

    def allows(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self) -> str:
        if self.choices:
            return f"one of {list(self.choices)}"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"in {'(' if self.low_open or self.low is None else '['}{low}, {high}{')' if self.high_open or self.high is None else ']'}"


AT_LEAST_ONE, NON_NEGATIVE, POSITIVE = Range(low=1), Range(low=0), Range(low=0, low_open=True)
RATE, PROBABILITY = Range(0, 1, low_open=True), Range(0, 1, high_open=True)
# One range per hyper-parameter name, whichever architecture has it (a name means the same in each);
# checked with the types when the workflow is parsed, so `snakemake -n` already names a bad value.
PARAM_RANGES: dict[str, Range] = {
    **dict.fromkeys(
        [
            "max_epochs",
            "batch_size",
            "patience",
            "n_latent",
            "n_hidden",
            "n_members",
            "n_layers",
            "n_components",
            "n_filters",
            "filter_width",
            "critic_steps",
            "embed_steps",
            "embedding_k",
            "token_stride",
            "radius",
            "n_bits",
            "d_model",
            "n_heads",
            "n_protein_components",
            "episodes",
            "replay_size",
            "target_sync",
        ],
        AT_LEAST_ONE,
    ),
    **dict.fromkeys(
        [
            "kl_warmup_epochs",
            "weight_decay",
            "penalty_weight",
            "min_genes",
            "embedding_dim",
            "gradient_clip",
            "mc_samples",
            "length",
            "episode_steps",
            "warmup_steps",
        ],
        NON_NEGATIVE,
    ),
    **dict.fromkeys(
        ["learning_rate", "learning_rate_final", "mixture_learning_rate", "representation_learning_rate"], RATE
    ),
    **dict.fromkeys(
        [
            "dropout",
            "corruption",
            "heldout_mask_fraction",
            "beta1",
            "beta2",
            "protein_mask_rate",
            "gamma",
            "epsilon_final",
            "exploration_fraction",
        ],
        PROBABILITY,
    ),
    **dict.fromkeys(
        [
            "C",
            "target_sum",
            "max_value",
            "library_size",
            "embed_step_size",
            "initial_sd",
            "dirichlet_alpha",
            "log_var_prior_sd",
            "softball_radius",
            "softball_sharpness",
            "prior_sd",
        ],
        POSITIVE,
    ),
    # lifedl.nn.likelihoods.LIKELIHOODS and lifedl.nn.mixture.COVARIANCES (a test keeps them equal): named
    # here so that the check needs no torch
    "likelihood": Range(choices=("nb", "zinb", "poisson", "gaussian")),
    "covariance": Range(choices=("diagonal", "isotropic")),
}


def check_range(name: str, value: Any, what: str) -> None:
    allowed = PARAM_RANGES.get(name)
    if allowed is not None and not allowed.allows(value):
        raise LifedlError(f"{what} must be {allowed.describe()}, got {value!r}. Fix it under 'params:' in the config.")


_NEURAL_TRAINING = {
    "learning_rate": 1e-3,
    "weight_decay": 1e-6,
    "batch_size": 128,
    "max_epochs": 300,
    "patience": 15,  # epochs without a better validation loss before stopping
    "kl_warmup_epochs": 0,
}

# held-out denoising measure: fraction of non-zero entries of held-out cells hidden from the model
_PCA = {"n_components": 50, "target_sum": 1e4, "max_value": 10.0}
# SCVI's defaults (scvi-tools: 10 latent dimensions, 128 hidden units, one layer, batch 128) with its early
# stopping's patience and at most 400 epochs (its rule for up to 20,000 cells)
_PEER = {"n_latent": 10, "n_hidden": 128, "n_layers": 1, "batch_size": 128, "max_epochs": 400, "patience": 45}
# TOTALVI's own defaults (scvi-tools 1.4): 20 latent dimensions, 256 hidden units, a 2-layer encoder and a 1-layer
# decoder, batch 256
_TOTALVI = {
    "n_latent": 20,
    "n_hidden": 256,
    "n_layers_encoder": 2,
    "n_layers_decoder": 1,
    "batch_size": 256,
    "max_epochs": 400,
    "patience": 45,
}
_AE_NETWORK = {"n_hidden": 128, "n_layers": 1, "dropout": 0.1, "heldout_mask_fraction": 0.1}
_VAE_NETWORK = {"n_hidden": 128, "n_layers": 1, "dropout": 0.1, "likelihood": "nb"}

# mc_samples: dropout passes averaged at prediction (MC dropout; 0 = the deterministic network), as the cell classifiers.
_CNN_NETWORK = {
    "n_filters": 32,
    "filter_width": 15,
    "n_hidden": 32,
    "dropout": 0.1,
    "reverse_complement": False,
    "mc_samples": 0,
}
# gradient_clip: the largest gradient norm a step applies (0: no clipping); the norm is logged either way.
_SEQUENCE_TRAINING = {
    "learning_rate": 1e-3,
    "weight_decay": 1e-6,
    "batch_size": 64,
    "max_epochs": 30,
    "patience": 5,
    "gradient_clip": 0.0,
}

# Cell-type classifiers (lifedl.models.uncertainty): one hidden layer on the training cells' 50-component scaled PCA;
# mc_samples: networks drawn at prediction (dropout masks or weights; 0 = one deterministic pass). Each classifier,
# the calibration baselines included, is tuned in every run with the same budget: 8 settings, the one with the lowest
# negative log-likelihood on its validation cells kept (a proper score; the ECE of 84 validation cells moves by
# several hundredths between seeds). The bnn's grid replaces dropout by the prior sd; its learning rates reach 1e-2
# and its epochs 600 (at 1e-3 its weight spreads still grow at 300 epochs). The values below are used where a
# setting is fixed by hand (it then leaves the grid) or the search is emptied (params.<arch>.search: {}).
_CELL_CLASSIFIER = {
    "n_components": 50,
    "target_sum": 1e4,
    "n_hidden": 128,
    "dropout": 0.5,
    "mc_samples": 0,
    **_NEURAL_TRAINING,
    "patience": 20,
    # Every classifier is tuned with the same budget, 8 settings chosen by validation negative log-likelihood
    # (lifedl.train.plans.search_on_validation); the values above are the ones used where search is emptied.
    "search": {"n_hidden": [32, 128], "dropout": [0.2, 0.5], "learning_rate": [1e-3, 1e-2]},
    "search_metric": "val_nll",
}

# Seurat's WNN vignette: 30 RNA PCs, 18 protein PCs (fewer where there are fewer proteins)
_JOINT_PCA = {"n_components": 30, "n_protein_components": 18, "target_sum": 1e4, "max_value": 10.0}
_INTEGRATION_NETWORK = {"n_latent": 10, "n_hidden": 128, "n_layers": 1, "dropout": 0.1}

# The deep Q-network designer (lifedl.models.dqn). motif "": the data set's planted motif; length 0: the motif's
# width (one window: designing a binding site); episode_steps 0: length. An agent has no validation rows: gamma and
# the hidden units are chosen per run in another environment than the scored one (search_trial: the MAFK motif,
# which no data set's dqn is scored on; lifedl.train.plans.search_on_validation), by the greedy policy's fraction
# of the optimum. (Earlier, chosen on the scored CTCF environment: gamma 0.5 and 128 units reached 0.985 in 200
# episodes; gamma 0.9 and 256 units 0.977 in 300.) dqn_oracle keeps the values below: its reward is the data set's
# own classifier, so there is no unscored environment to tune it in.
_DQN = {
    "motif": "",
    "length": 0,
    "episode_steps": 0,
    "episodes": 200,
    "n_hidden": 128,
    "learning_rate": 1e-3,
    "batch_size": 64,
    "gamma": 0.5,
    "replay_size": 10000,
    "warmup_steps": 500,
    "target_sync": 200,
    "epsilon_final": 0.05,
    "exploration_fraction": 0.5,
    "search": {"gamma": [0.5, 0.9], "n_hidden": [128, 256]},
    "search_metric": "policy_fraction",
    "search_trial": {"motif": "MAFK"},
}

ARCHITECTURES: dict[str, Architecture] = {
    architecture.name: architecture
    for architecture in (
        Architecture(
            "pca",
            "lifedl.models.pca",
            "PCA of log-normalised, scaled expression (scanpy recipe); the baseline",
            _PCA,
            plan="none",
            baseline="",
            figures=("embedding_panel", "embedding_panel_deep"),
        ),
        *(
            Architecture(
                name,
                "lifedl.models.pca",
                summary,
                _PCA,
                plan="none",
                baseline="",
                needs=("batch",),
                corrects_together=True,
                default_run=False,  # run beside every batch-aware model on a data set with batches
            )
            for name, summary in (
                ("pca_combat", "ComBat on log-normalised expression by batch, then PCA: a batch-correcting baseline"),
                ("pca_harmony", "PCA, then Harmony on its components by batch: a batch-correcting baseline"),
            )
        ),
        Architecture(
            "scvi",
            "lifedl.models.peers",
            "scvi-tools' SCVI (Lopez et al. 2018) as a peer, in its own environment: NB, observed library size",
            _PEER,
            plan="none",
            batch_aware=True,
            environment="peer",
            default_run=False,
        ),
        Architecture(
            "ae",
            "lifedl.models.autoencoder",
            "deterministic autoencoder on log-normalised expression (MSE): the seeds' AE vs PCA",
            {"n_latent": 10, **_AE_NETWORK, **_NEURAL_TRAINING},
            figures=("embedding_panel",),
        ),
        Architecture(
            "deep_ae",
            "lifedl.models.autoencoder",
            "seed 004's 8-layer autoencoder: the same AE with three hidden layers each way (4 linear layers each)",
            {"n_latent": 10, **_AE_NETWORK, "n_layers": 3, **_NEURAL_TRAINING},
            figures=("embedding_panel_deep",),
            default_run=False,
        ),
        Architecture(
            "dae",
            "lifedl.models.autoencoder",
            "denoising autoencoder: non-zero counts dropped at rate `corruption`, trained to give back clean values",
            {"n_latent": 10, "corruption": 0.2, **_AE_NETWORK, **_NEURAL_TRAINING},
            default_run=False,
        ),
        Architecture(
            "vae",
            "lifedl.models.vae",
            "VAE on counts, library-size scaled, likelihood nb/zinb/poisson/gaussian (scVI, scVAE)",
            {"n_latent": 10, **_VAE_NETWORK, **_NEURAL_TRAINING},
            figures=("vae_interpolation", "embedding_panel", "embedding_panel_deep", "generation"),
            batch_aware=True,
            capabilities=frozenset({"prior_samples"}),
            compared_with=("scvi",),
        ),
        Architecture(
            "ldvae",
            "lifedl.models.vae",
            "linearly decoded VAE: gene logits = W z + b, W = loadings (Svensson et al. 2020)",
            {"n_latent": 10, **_VAE_NETWORK, **_NEURAL_TRAINING},
            figures=("ldvae_loadings",),
            batch_aware=True,
            capabilities=frozenset({"loadings"}),
            compared_with=("vae",),
        ),
        Architecture(
            "vega",
            "lifedl.models.vae",
            "VAE with a gene-program-masked linear decoder: one latent dimension per program (Seninge et al. 2021)",
            # gmt "": the programs stored with the data set (datasets.tsv 'programs'), else PBMC marker programs.
            # positive_decoder: non-negative program-to-gene weights, as the paper's code (positive_decoder=True).
            # Trained to convergence: at the VAE's 1e-3 the masked decoder was still improving at 300 epochs (pbmc
            # held-out log-likelihood -740); at 1e-2 early stopping ends it near 270 epochs at -700 (3e-3: 547
            # epochs, -700), under the cap of 1000.
            {
                "gmt": "",
                "min_genes": 3,
                "positive_decoder": True,
                **_VAE_NETWORK,
                **_NEURAL_TRAINING,
                "learning_rate": 1e-2,
                "max_epochs": 1000,
            },
            figures=("vega_programs",),
            batch_aware=True,
            capabilities=frozenset({"gene_programs"}),
            compared_with=("vae",),
        ),
        Architecture(
            "dgd",
            "lifedl.models.dgd",
            "deep generative decoder: free per-cell representations, NB decoder, mixture prior (Schuster & Krogh 2021)",
            # The paper's PBMC sizes (latent 20, decoder 100-100-100, 18 diagonal components, Dirichlet alpha 1,
            # mixture and representation rates 1e-2). The decoder's 2e-3 (paper 1e-3) and 200 epochs fit a small
            # data set in under a minute on one CPU thread (700 PBMCs: about 30 s). embed_step_size: Adam's step
            # when embedding new cells, in units of the mixture's component standard deviation.
            {
                "n_latent": 20,
                "n_hidden": 100,
                "n_layers": 3,
                "n_components": 18,
                "covariance": "diagonal",
                "softball_radius": 1.0,
                "softball_sharpness": 1.0,
                "initial_sd": 0.1,
                "log_var_prior_sd": 1.0,
                "dirichlet_alpha": 1.0,
                "learning_rate": 2e-3,
                "representation_learning_rate": 1e-2,
                "mixture_learning_rate": 1e-2,
                "weight_decay": 1e-4,
                "batch_size": 128,
                "max_epochs": 200,
                "patience": 20,
                "embed_steps": 50,
                "embed_step_size": 0.2,
            },
            plan="dgd",
            figures=("dgd_latent", "dgd_subclusters", "generation"),
            capabilities=frozenset({"prior_samples"}),
        ),
        Architecture(
            "scgan",
            "lifedl.models.scgan",
            "WGAN-GP generating library-size-normalised cells, optionally per cell type (scGAN/cscGAN, Marouf et al. 2020)",
            # The paper's networks, 5 critic steps, penalty 10, totals of 20,000 and AMSGrad with beta2 0.9. Its
            # 1e-4 -> 1e-5 over 1M steps becomes 1e-3 -> 1e-4 over 80 epochs (about a minute for 700 cells on one
            # CPU thread); beta1 0 as in WGAN-GP (scGAN's code: 0.5), which matched real cells better in that budget.
            {
                "n_latent": 128,
                "generator_layers": [256, 512, 1024],
                "critic_layers": [1024, 512, 256],
                "library_size": 20000.0,
                "conditional": False,
                "critic_steps": 5,
                "penalty_weight": 10.0,
                "learning_rate": 1e-3,
                "learning_rate_final": 1e-4,
                "beta1": 0.0,
                "beta2": 0.9,
                "amsgrad": True,
                "batch_size": 128,
                "max_epochs": 80,
                # RF AUROC of generated vs training cells every so many epochs (0: never): the realism-vs-budget
                # curve (figure scgan_realism_curve); about 4 s each for 700 cells
                "realism_every": 20,
            },
            task="generator",
            plan="gan",
            figures=("scgan_realism_curve",),
        ),
        Architecture(
            "scgen",
            "lifedl.models.scgen",
            "VAE + latent vector arithmetic: a held-out cell type's response to a stimulus (Lotfollahi et al. 2019)",
            # The paper: Gaussian/MSE on log-normalised data, 800-800 layers, latent 100, dropout 0.2, lr 1e-3, 100
            # epochs. Here the NB likelihood (prediction = mean of log-normalised NB draws) and one 256-unit layer,
            # latent 20: on the simulated responses they beat the average-response baseline where the Gaussian
            # and the paper's two 800-unit layers (which extrapolated z + delta worst) did not; 100 epochs take about
            # 30 s on one CPU thread for 2,000 cells. Patience 25 as in scGen's tutorial.
            {
                "n_latent": 20,
                "n_hidden": 256,
                "n_layers": 1,
                "dropout": 0.2,
                "likelihood": "nb",
                "learning_rate": 1e-3,
                "weight_decay": 1e-6,
                "batch_size": 128,
                "max_epochs": 100,
                "patience": 25,
                "kl_warmup_epochs": 0,
            },
            task="perturbation",
            # its baselines are rows of its own table (no change; the other types' average response), not PCA
            baseline="",
            needs=("labels", "condition", "control", "heldout"),
        ),
        Architecture(
            "pca_protein",
            "lifedl.models.joint_pca",
            "PCA of the surface proteins alone (CLR per cell, scaled): what the antibody panel separates",
            _JOINT_PCA,
            data_kind="cells+protein",
            plan="none",
            baseline="",
        ),
        Architecture(
            "pca_concat",
            "lifedl.models.joint_pca",
            "PCA of scaled RNA and protein side by side, each modality weighted by 1/sqrt(its features)",
            _JOINT_PCA,
            data_kind="cells+protein",
            plan="none",
            baseline="",
            figures=("embedding_panel_joint",),
        ),
        Architecture(
            "wnn",
            "lifedl.models.joint_pca",
            "weighted nearest neighbours of an RNA PCA and a protein PCA, each Harmony-corrected where there are "
            "batches (Hao et al. 2021, Seurat v4, muon)",
            _JOINT_PCA,
            data_kind="cells+protein",
            plan="none",
            baseline="",
            corrects_together=True,
            figures=("citeseq_umap",),
        ),
        Architecture(
            "concat_ae",
            "lifedl.models.multiomics",
            "autoencoder on log-normalised RNA and CLR protein side by side (seed 004's integration autoencoder)",
            {**_INTEGRATION_NETWORK, **_NEURAL_TRAINING},
            data_kind="cells+protein",
            figures=("embedding_panel_joint",),
        ),
        Architecture(
            "multivae",
            "lifedl.models.multiomics",
            "VAE with an encoder per modality, one shared latent (product of experts), NB RNA and a totalVI-like "
            "background/foreground protein mixture",
            # protein_mask_rate: share of training cells whose protein the encoder does not see (0: chosen on a
            # validation simulation, see lifedl.models.multiomics)
            {**_INTEGRATION_NETWORK, "protein_mask_rate": 0.0, **_NEURAL_TRAINING},
            data_kind="cells+protein",
            figures=("embedding_panel_joint", "citeseq_umap", "protein_prediction"),
            batch_aware=True,
            compared_with=("totalvi",),
        ),
        Architecture(
            "totalvi",
            "lifedl.models.peers",
            "scvi-tools' TOTALVI (Gayoso et al. 2021) as a peer of multivae, in its own environment",
            _TOTALVI,
            data_kind="cells+protein",
            plan="none",
            baseline="pca_concat",
            batch_aware=True,
            environment="peer",
            default_run=False,
        ),
        Architecture(
            "mlp",
            "lifedl.models.uncertainty",
            "cell-type classifier: one hidden layer on the scaled PCA, softmax confidence; the uncertainty baseline",
            _CELL_CLASSIFIER,
            task="classifier",
            baseline="",
            figures=("calibration",),
            needs=("labels", "split"),
            capabilities=frozenset({"probability_draws"}),
        ),
        Architecture(
            "mlp_temperature",
            "lifedl.models.uncertainty",
            "the mlp with temperature scaling fitted on the validation cells (Guo et al. 2017): the calibration baseline",
            _CELL_CLASSIFIER,
            task="classifier",
            baseline="",
            needs=("labels", "split"),
            capabilities=frozenset({"probability_draws"}),
        ),
        Architecture(
            "mlp_ensemble",
            "lifedl.models.uncertainty",
            "a deep ensemble of n_members mlps from different initialisations, probabilities averaged "
            "(Lakshminarayanan et al. 2017)",
            {**_CELL_CLASSIFIER, "n_members": 5},
            task="classifier",
            baseline="",
            needs=("labels", "split"),
            capabilities=frozenset({"probability_draws"}),
        ),
        Architecture(
            "mc_dropout",
            "lifedl.models.uncertainty",
            "the same classifier with dropout kept on at prediction, averaged over mc_samples passes (MC dropout)",
            {**_CELL_CLASSIFIER, "mc_samples": 30},
            task="classifier",
            baseline="mlp",
            needs=("labels", "split"),
            capabilities=frozenset({"probability_draws"}),
        ),
        Architecture(
            "bnn",
            "lifedl.models.uncertainty",
            "Bayesian neural network: Gaussian weights fitted by Bayes by backprop (ELBO), mc_samples posterior draws",
            {
                **_CELL_CLASSIFIER,
                "dropout": 0.0,
                "n_hidden": 32,
                "mc_samples": 30,
                "prior_sd": 0.5,
                "learning_rate": 1e-2,
                "max_epochs": 600,
                "patience": 40,
                "search": {"n_hidden": [32, 128], "prior_sd": [0.5, 1.0], "learning_rate": [1e-3, 1e-2]},
            },
            task="classifier",
            baseline="mlp",
            needs=("labels", "split"),
            capabilities=frozenset({"probability_draws"}),
        ),
        Architecture(
            "gc",
            "lifedl.models.kmer",
            "logistic regression on GC content alone: how far composition separates the classes",
            {"C": 1.0},
            data_kind="sequences",
            task="classifier",
            plan="none",
            baseline="",
            needs=("labels",),
        ),
        Architecture(
            "kmer",
            "lifedl.models.kmer",
            "logistic regression on k-mer frequencies (reverse complements pooled), k and C chosen on the validation "
            "rows; the sequence baseline",
            {"k_values": [1, 2, 3, 4, 5, 6], "C_values": [0.01, 0.1, 1.0, 10.0]},
            data_kind="sequences",
            task="classifier",
            plan="none",
            baseline="",
            needs=("labels",),
        ),
        Architecture(
            "cnn",
            "lifedl.models.sequence",
            "1-D CNN on one-hot DNA: convolution, ReLU, global max pooling, dense (DeepBind)",
            {**_CNN_NETWORK, "embedding_dim": 0, "embedding_k": 1, **_SEQUENCE_TRAINING},
            data_kind="sequences",
            task="classifier",
            baseline="kmer",
            figures=("cnn_motif", "filter_logos"),
            needs=("labels",),
            capabilities=frozenset({"motif_filters", "gradient_norms", "probability_draws"}),
        ),
        Architecture(
            "cnn_mc_dropout",
            "lifedl.models.sequence",
            "the same one-hot CNN with dropout kept on at prediction, averaged over mc_samples passes (MC dropout)",
            {**_CNN_NETWORK, "mc_samples": 30, "embedding_dim": 0, "embedding_k": 1, **_SEQUENCE_TRAINING},
            data_kind="sequences",
            task="classifier",
            baseline="cnn",
            figures=("sequence_calibration",),
            needs=("labels",),
            capabilities=frozenset({"gradient_norms", "probability_draws"}),
            default_run=False,
        ),
        Architecture(
            "cnn_embed",
            "lifedl.models.sequence",
            "the same CNN on a learned embedding of overlapping k-mers instead of one-hot letters",
            # 3-mers and a width of 13 k-mers see the same 15 letters as the one-hot CNN's filters.
            {**_CNN_NETWORK, "filter_width": 13, "embedding_dim": 8, "embedding_k": 3, **_SEQUENCE_TRAINING},
            data_kind="sequences",
            task="classifier",
            baseline="kmer",
            figures=("kmer_embedding",),
            needs=("labels",),
            capabilities=frozenset({"gradient_norms", "probability_draws"}),
        ),
        Architecture(
            "bilstm",
            "lifedl.models.sequence",
            "bidirectional LSTM over one-hot DNA, max- and mean-pooled, with gradient-norm clipping",
            {
                "n_hidden": 32,
                "n_layers": 1,
                "dropout": 0.1,
                "embedding_dim": 0,
                "embedding_k": 1,
                **_SEQUENCE_TRAINING,
                "learning_rate": 3e-3,
                "gradient_clip": 1.0,
            },
            data_kind="sequences",
            task="classifier",
            baseline="kmer",
            figures=("gradient_norms",),
            needs=("labels",),
            capabilities=frozenset({"gradient_norms"}),
        ),
        Architecture(
            "transformer",
            "lifedl.models.sequence",
            "transformer encoder over k-mer tokens: sinusoidal positions, multi-head self-attention, mean pooling",
            {
                "d_model": 32,
                "n_heads": 4,
                "n_layers": 2,
                "dropout": 0.1,
                # 4-mers every 2 letters: a quarter of the attention's cost of overlapping 3-mers, and a better
                # validation auROC on sim_motif (0.79 vs 0.75; 3-mers every 3 letters: 0.66)
                "embedding_dim": 32,
                "embedding_k": 4,
                "token_stride": 2,  # k-mers every token_stride letters: attention costs (L / stride)^2
                **_SEQUENCE_TRAINING,
                "gradient_clip": 1.0,
            },
            data_kind="sequences",
            task="classifier",
            baseline="kmer",
            figures=("attention_maps",),
            needs=("labels",),
            capabilities=frozenset({"gradient_norms"}),
        ),
        Architecture(
            "dqn",
            "lifedl.models.dqn",
            "deep Q-network designing DNA by point edits toward a JASPAR motif's optimum (replay, target network, "
            "epsilon-greedy); against random edits and greedy hill climbing on the same budget",
            _DQN,
            data_kind="sequences",
            task="designer",
            plan="agent",
            baseline="",
            figures=("design_curves",),
        ),
        Architecture(
            "dqn_oracle",
            "lifedl.models.dqn",
            "the same deep Q-network rewarded by a learned oracle, the data set's trained cnn (its probability of "
            "oracle_class), instead of the motif; the designs' PWM score says whether the oracle's taste is the motif",
            {**_DQN, "oracle_class": "positive", "search": {}, "search_trial": {}},
            data_kind="sequences",
            task="designer",
            plan="agent",
            baseline="",
            figures=("oracle_design_curves",),
            uses_models=("cnn",),
            default_run=False,
        ),
        Architecture(
            "physics",
            "lifedl.models.graph",
            "a value the data set ships per molecule, e.g. FreeSolv's physics-based hydration free energy",
            {"column": "calc"},
            data_kind="graphs",
            task="regressor",
            plan="none",
            baseline="",
            needs=("labels",),
        ),
        Architecture(
            "fingerprint",
            "lifedl.models.graph",
            "ridge regression on Morgan fingerprint bits (radius 2), its strength chosen on a validation split",
            {"radius": 2, "n_bits": 2048, "alphas": [0.1, 1.0, 10.0, 100.0]},
            data_kind="graphs",
            task="regressor",
            plan="none",
            baseline="",
            needs=("labels",),
        ),
        Architecture(
            "gcn",
            "lifedl.models.graph",
            "graph convolutions X' = ReLU(Â X Wᵀ) over atoms joined by bonds (bond types not read), sum and mean pooling, "
            "regression head",
            {
                "n_hidden": 64,
                "n_layers": 3,
                "dropout": 0.1,
                "learning_rate": 1e-3,
                "weight_decay": 1e-5,
                "batch_size": 32,
                "max_epochs": 200,
                "patience": 30,
            },
            data_kind="graphs",
            task="regressor",
            baseline="fingerprint",
            needs=("labels",),
        ),
    )
}


# scVAE's comparison (the likelihoods rule) trains this architecture once per likelihood on the same cells.
LIKELIHOOD_COMPARISON_ARCH = "vae"


def get_architecture(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        raise LifedlError(
            f"unknown architecture '{name}'; config/config.yaml 'architectures' may list: {sorted(ARCHITECTURES)}."
        )
    return ARCHITECTURES[name]


def default_architectures() -> list[str]:
    """What config 'architectures' means when left out: the entries marked for the default run, in registry order."""
    return [name for name, architecture in ARCHITECTURES.items() if architecture.default_run]


def architectures_of_task(task: str, data_kind: str | None = None) -> list[str]:
    return sorted(
        name
        for name, architecture in ARCHITECTURES.items()
        if architecture.task == task and (data_kind is None or architecture.reads(data_kind))
    )


__all__ = [
    "ARCHITECTURES",
    "CAPABILITIES",
    "LIKELIHOOD_COMPARISON_ARCH",
    "PLANS",
    "TASKS",
    "Architecture",
    "architectures_of_task",
    "default_architectures",
    "get_architecture",
]
