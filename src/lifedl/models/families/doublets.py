"""Doublet detection (seed 001's anomaly detection with autoencoders; the first QC question of droplet data):
detectors of planted doublets, fitted without their labels, against scanpy's scrublet and the cells' library size."""

from lifedl.models.families.cells import PEER
from lifedl.models.registry import NEURAL_TRAINING, family

detector = family(
    module="lifedl.models.doublets",
    task="doublet_detector",
    baseline="scrublet",
    needs=("labels", "planted_doublets"),
    figures=("doublet_scores",),  # the validation cells' labels choose, the test cells' score
)

ENTRIES = (
    detector(
        "library_size",
        "the cell's total counts or its genes detected (a doublet holds two cells' worth; the one the validation "
        "cells' auROC prefers): the floor every detector must beat",
        {"measures": ["total_counts", "n_genes"]},
        plan="none",
        baseline="",
        deterministic=True,
    ),
    detector(
        "scrublet",
        "scanpy's pp.scrublet (Wolock et al. 2019) at its defaults: doublets simulated from the cells, the share of "
        "them among each cell's neighbours in a PCA; new cells scored in one sample with the training cells",
        {"sim_doublet_ratio": 2.0, "expected_doublet_rate": 0.05, "n_prin_comps": 30},
        plan="none",
        baseline="",
        compared_with=("library_size",),
    ),
    detector(
        "recon_error",
        "anomaly score of an autoencoder (seed 001): the negative log-likelihood of the cell's counts under the vae "
        "of the same seed at its posterior mean, per cell or per count (chosen on the validation cells)",
        {"scales": ["cell", "count"]},
        plan="none",
        uses_models=("vae",),
        compared_with=("library_size",),
    ),
    detector(
        "solo",
        "SOLO (Bernstein et al. 2020): doublets simulated from the training cells (doublet_ratio per cell), encoded "
        "by the vae of the same seed (frozen), a classifier of them against the observed cells on its latent space",
        {**NEURAL_TRAINING, "doublet_ratio": 2.0, "n_hidden": 128, "dropout": 0.1, "patience": 10},
        uses_models=("vae",),
        compared_with=("library_size", "scvi_solo"),
    ),
    family(
        module="lifedl.models.peers",
        task="doublet_detector",
        plan="none",
        baseline="scrublet",
        needs=("labels", "planted_doublets"),
        environment="peer",
        default_run=False,
    )(
        "scvi_solo",
        "scvi-tools' SOLO (scvi.external.SOLO.from_scvi_model) on its SCVI model of the training cells, in its own "
        "environment: solo's peer; new cells scored in one sample with the training cells, as SOLO classifies the "
        "cells it is set up with",
        # SCVI's sizes and early stopping as the scvi peer's; SOLO's own defaults (400 epochs, its validation split)
        {**PEER, "doublet_ratio": 2, "solo_max_epochs": 400},
        compared_with=("library_size",),
    ),
)
