"""Cell-type classifiers that say how sure they are: the MLP and its calibration baselines (temperature scaling, a
deep ensemble), MC dropout and a Bayesian network (lifedl.models.uncertainty)."""

from lifedl.models.registry import NEURAL_TRAINING, family

# One hidden layer on the training cells' 50-component scaled PCA; mc_samples: networks drawn at prediction
# (dropout masks or weights; 0 = one deterministic pass). Every classifier, the calibration baselines included, is
# tuned in every run with the same budget: 8 settings, the one with the lowest validation negative log-likelihood
# kept (lifedl.train.plans.search_on_validation; why NLL: docs/architectures.md). The values outside the grid are
# used where a setting is fixed by hand (it then leaves the grid) or the search is emptied (params.<arch>.search: {}).
CELL_CLASSIFIER = {
    "n_components": 50,
    "target_sum": 1e4,
    "n_hidden": 128,
    "dropout": 0.5,
    "mc_samples": 0,
    **NEURAL_TRAINING,
    "patience": 20,
    "search": {"n_hidden": [32, 128], "dropout": [0.2, 0.5], "learning_rate": [1e-3, 1e-2]},
    "search_metric": "val_nll",
}

classifier = family(
    module="lifedl.models.uncertainty",
    task="classifier",
    baseline="",
    needs=("labels",),  # the test cells: the sheet's split column where it has one, else drawn (lifedl.data.splits)
    capabilities=frozenset({"probability_draws"}),
)

ENTRIES = (
    classifier(
        "mlp",
        "cell-type classifier: one hidden layer on the scaled PCA, softmax confidence; the uncertainty baseline",
        CELL_CLASSIFIER,
        figures=("calibration",),
    ),
    classifier(
        "mlp_temperature",
        "the mlp's network of the same seed (not trained again) with temperature scaling fitted on the validation "
        "cells (Guo et al. 2017): the calibration baseline",
        {"mc_samples": 0},  # one deterministic pass; the network and its settings are the trained model's
        plan="none",
        uses_models=("mlp",),
    ),
    classifier(
        "mlp_ensemble",
        "a deep ensemble of n_members mlps from different initialisations, probabilities averaged "
        "(Lakshminarayanan et al. 2017)",
        {**CELL_CLASSIFIER, "n_members": 5},
    ),
    classifier(
        "mc_dropout",
        "the same classifier with dropout kept on at prediction, averaged over mc_samples passes (MC dropout)",
        {**CELL_CLASSIFIER, "mc_samples": 30},
        baseline="mlp",
    ),
    classifier(
        "bnn",
        "Bayesian neural network: Gaussian weights fitted by Bayes by backprop (ELBO), mc_samples posterior draws",
        # the prior sd replaces dropout in its grid; rates up to 1e-2 and 600 epochs (docs/architectures.md)
        {
            **CELL_CLASSIFIER,
            "dropout": 0.0,
            "n_hidden": 32,
            "mc_samples": 30,
            "prior_sd": 0.5,
            "learning_rate": 1e-2,
            "max_epochs": 600,
            "patience": 40,
            "search": {"n_hidden": [32, 128], "prior_sd": [0.5, 1.0], "learning_rate": [1e-3, 1e-2]},
        },
        baseline="mlp",
    ),
)
