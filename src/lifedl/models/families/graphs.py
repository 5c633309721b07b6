"""Molecules as graphs: a physics-based value the data set ships, ridge on fingerprints, and a graph convolutional
network (regressors of a property)."""

from lifedl.models.registry import family

molecule_regressor = family(module="lifedl.models.graph", data_kind="graphs", task="regressor", needs=("labels",))

ENTRIES = (
    molecule_regressor(
        "physics",
        "a value the data set ships per molecule, e.g. FreeSolv's physics-based hydration free energy",
        {"column": "calc"},
        plan="none",
        baseline="",
        deterministic=True,
    ),
    molecule_regressor(
        "fingerprint",
        "ridge regression on Morgan fingerprint bits (radius 2), its strength chosen on a validation split",
        {"radius": 2, "n_bits": 2048, "alphas": [0.1, 1.0, 10.0, 100.0]},
        plan="none",
        baseline="",
        deterministic=True,
    ),
    molecule_regressor(
        "gcn",
        "graph convolutions X' = ReLU(Â X Wᵀ) over atoms joined by bonds (bond types not read), sum and mean "
        "pooling, regression head",
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
        baseline="fingerprint",
    ),
)
