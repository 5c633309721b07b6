"""The registry's parts: an architecture's entry (:class:`Architecture`), the ranges its hyper-parameters are
checked against, the capabilities and plans it may declare, and :func:`family`, which makes the entries of one
family (``lifedl.models.families``) share what they have in common. Imports nothing heavy: Snakemake reads it when
parsing the workflow."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

from lifedl.errors import LifedlError
from lifedl.tl.tasks import TASKS  # what the workflow does after training, per task

# The data kinds a kind also feeds besides its own: the RNA of CITE-seq cells is cells data.
ALSO_FEEDS = {"cells+protein": ("cells",), "cells+peaks": ("cells",)}
# Needs that no sheet column fills: what the data set's source made of its cells (planted doublets, whose labels
# the doublet detectors are scored on; lifedl.data.doublets)
DERIVED_NEEDS = {"planted_doublets": lambda row: str(row.get("source", "")).startswith("doublets:")}
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
    # dataset roles (datasets.tsv columns) that must be filled for a data set to run this architecture, or what its
    # source must have made (DERIVED_NEEDS: planted doublets)
    needs: tuple[str, ...] = ()
    # architectures whose trained models (same data set, same seed) this one uses: trained before it
    uses_models: tuple[str, ...] = ()
    # no seed changes what it fits or scores (no random initialisation, sampling or clustering: a grid search of a
    # convex fit, a threshold): its replicate seeds reuse the main seed's scores instead of fitting it again
    deterministic: bool = False
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
    # defaults that differ by the sequences' alphabet ('protein' -> {name: value}): what suits 4 letters may not
    # suit 20 (k-mers of 20^k). They replace the defaults; the config's params still override them.
    alphabet_defaults: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for alphabet, values in self.alphabet_defaults.items():
            if set(values) - set(self.defaults):
                raise LifedlError(
                    f"architecture '{self.name}': alphabet_defaults['{alphabet}'] names "
                    f"{sorted(set(values) - set(self.defaults))}, which are not among its defaults."
                )
        unknown = sorted(set(self.capabilities) - set(CAPABILITIES))
        if unknown or self.task not in TASKS or self.plan not in PLANS:
            raise LifedlError(
                f"architecture '{self.name}': unknown capabilities {unknown}, task '{self.task}' or plan "
                f"'{self.plan}'; known: {sorted(CAPABILITIES)}, {list(TASKS)}, {list(PLANS)}."
            )

    def missing_needs(self, row: Mapping[str, Any]) -> list[str]:
        """Its ``needs`` that a data set's sheet row (or spec fields) leaves unmet: empty roles, or a source that did not
        make what a derived need asks for."""
        return [
            need
            for need in self.needs
            if not (DERIVED_NEEDS[need](row) if need in DERIVED_NEEDS else row.get(need, ""))
        ]

    def can(self, capability: str) -> bool:
        if capability not in CAPABILITIES:
            raise LifedlError(f"unknown capability '{capability}'; known: {sorted(CAPABILITIES)}.")
        return capability in self.capabilities

    @property
    def pyfunc_loadable(self) -> bool:
        """Whether its trained model embeds a new cell alone in lifedl's environment, so that MLflow logs it as a
        pyfunc model any client loads (not the batch corrections, nor the peers)."""
        # a multiome model reads two matrices of the same cells, which the pyfunc model's one table does not hold
        return not self.corrects_together and not self.environment and self.data_kind != "cells+peaks"

    def reads(self, kind: str) -> bool:
        """Whether data of ``kind`` feeds this architecture (a cells+protein data set's RNA feeds cell models)."""
        return self.data_kind == kind or self.data_kind in ALSO_FEEDS.get(kind, ())

    def resolve_params(
        self, overrides: Mapping[str, Any] | None, where: str = "config", alphabet: str = ""
    ) -> dict[str, Any]:
        """Defaults (those of the sequences' ``alphabet``, e.g. 'protein', where the entry has them) updated by
        ``overrides``; an unknown name is an error, not silently ignored."""
        overrides = dict(overrides or {})
        defaults = {**self.defaults, **self.alphabet_defaults.get(alphabet, {})}
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise LifedlError(
                f"{where}: unknown hyper-parameter(s) {unknown} for architecture '{self.name}'; "
                f"known: {sorted(self.defaults)}."
            )
        for name, value in overrides.items():
            self._check_type(name, value, where)
            check_range(name, value, f"{where}: hyper-parameter '{name}' of '{self.name}'")
        resolved = {**defaults, **overrides}
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
        words = PARAM_RANGES[name].words if name in PARAM_RANGES else ()
        if isinstance(value, str) and value in words:
            return
        expected = int if self.defaults[name] in words else type(self.defaults[name])  # a word stands for a count
        # an int is a valid float; a bool is not a valid int or float
        valid = isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
        valid = valid or (expected is float and isinstance(value, int) and not isinstance(value, bool))
        if not valid:
            raise LifedlError(
                f"{where}: hyper-parameter '{name}' of '{self.name}' must be of type {expected.__name__} "
                f"(default {self.defaults[name]!r}), got {value!r}. Fix it under 'params:' in the config."
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
    words: tuple[str, ...] = ()  # besides a number in the interval, these words (max_epochs: auto)

    def allows(self, value: Any) -> bool:
        if isinstance(value, str) and value in self.words:
            return True
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
        interval = f"in {'(' if self.low_open or self.low is None else '['}{low}, {high}{')' if self.high_open or self.high is None else ']'}"
        return interval + "".join(f" or '{word}'" for word in self.words)


AUTO = "auto"  # max_epochs: as many as the data set's size calls for (epochs_for)
AT_LEAST_ONE, NON_NEGATIVE, POSITIVE = Range(low=1), Range(low=0), Range(low=0, low_open=True)
RATE, PROBABILITY = Range(0, 1, low_open=True), Range(0, 1, high_open=True)
# One range per hyper-parameter name, whichever architecture has it (a name means the same in each);
# checked with the types when the workflow is parsed, so `snakemake -n` already names a bad value.
PARAM_RANGES: dict[str, Range] = {
    "max_epochs": Range(low=1, words=(AUTO,)),
    **dict.fromkeys(
        [
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
            "width",
            "depth",
            "orientations",
            "hog_cell",
            "n_steps",
            "query_max_epochs",
            "solo_max_epochs",
            "doublet_ratio",
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
            "min_size",
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
            "boundary_weight",
            "depth_correlation_max",
        ],
        POSITIVE,
    ),
    **dict.fromkeys(["beta_start", "beta_end"], Range(0, 1, low_open=True, high_open=True)),  # a noise variance
    "hidden_share": Range(0, 1, low_open=True, high_open=True),  # letters hidden in masked-token pre-training
    "label_fraction": RATE,  # share of the training rows whose labels a classifier reads (a learning curve)
    # lifedl.nn.likelihoods.LIKELIHOODS and lifedl.nn.mixture.COVARIANCES (a test keeps them equal): named
    # here so that the check needs no torch
    "likelihood": Range(choices=("nb", "zinb", "poisson", "gaussian")),
    "covariance": Range(choices=("diagonal", "isotropic")),
}


def check_range(name: str, value: Any, what: str) -> None:
    allowed = PARAM_RANGES.get(name)
    if allowed is not None and not allowed.allows(value):
        raise LifedlError(f"{what} must be {allowed.describe()}, got {value!r}. Fix it under 'params:' in the config.")


# max_epochs 'auto': scvi-tools' rule for its models (scvi.model._utils.get_max_epochs_heuristic) with lifedl's cap
# of 300 epochs: the cap up to 20,000 cells, fewer in proportion above, so that a model takes as many steps on an
# atlas as on 20,000 cells. Every data set of the default run and of `make reproduce` is smaller.
EPOCHS_CAP, EPOCHS_DECAY_CELLS = 300, 20_000


def epochs_for(n_cells: int, cap: int = EPOCHS_CAP) -> int:
    """The epochs of max_epochs 'auto' for a data set of ``n_cells`` cells (or rows), at least one (scvi-tools'
    own default: ``cap`` 400)."""
    return max(1, min(cap, round(EPOCHS_DECAY_CELLS / max(n_cells, 1) * cap)))


def with_epochs(params: Mapping[str, Any], n_cells: int) -> dict[str, Any]:
    """``params`` with max_epochs 'auto' made a number for a data set of ``n_cells`` (said on stderr where it is
    below the cap); a number set stays."""
    if params.get("max_epochs") != AUTO:
        return dict(params)
    epochs = epochs_for(n_cells)
    if epochs < EPOCHS_CAP:
        print(
            f"max_epochs auto: {epochs} for {n_cells:,} cells ({EPOCHS_CAP} up to {EPOCHS_DECAY_CELLS:,}, fewer in "
            f"proportion above: as many steps as on {EPOCHS_DECAY_CELLS:,} cells); set max_epochs to a number to "
            "train longer",
            file=sys.stderr,
            flush=True,
        )
    return {**params, "max_epochs": epochs}


NEURAL_TRAINING = {
    "learning_rate": 1e-3,
    "weight_decay": 1e-6,
    "batch_size": 128,
    "max_epochs": AUTO,  # 300, fewer above 20,000 cells (epochs_for)
    "patience": 15,  # epochs without a better validation loss before stopping
    "kl_warmup_epochs": 0,
}


def family(**shared: Any) -> Callable[..., Architecture]:
    """An entry maker for one family: ``shared`` holds the fields its entries have in common (module, data kind,
    task, plan, baseline, needs, capabilities, ...); each entry gives its name, summary and defaults and what
    differs from them."""

    def entry(name: str, summary: str, defaults: Mapping[str, Any], **own: Any) -> Architecture:
        return Architecture(name=name, summary=summary, defaults=defaults, **{**shared, **own})

    return entry
