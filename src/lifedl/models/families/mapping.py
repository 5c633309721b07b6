"""Reference mapping (seed 003's transfer learning: a model trained on one data set adapted to another; users: a
new sample mapped onto a reference atlas): scArches' surgery of a reference VAE, against projecting the query onto
the reference's PCA (scanpy's ingest), the reference VAE without adaptation, and a VAE retrained on both."""

from lifedl.models.families.cells import PCA, VAE_NETWORK
from lifedl.models.registry import NEURAL_TRAINING, family

# the count VAE of lifedl.models.vae with its defaults, conditioned on the condition column's values as batches
COUNT_VAE = {"n_latent": 10, **VAE_NETWORK, **NEURAL_TRAINING}

mapper = family(
    module="lifedl.models.mapping",
    task="reference_mapping",
    baseline="ingest",
    needs=("labels", "condition", "control"),
    default_run=False,  # make reproduce: Kang 2018's control cells as the reference, the stimulated as the query
)

ENTRIES = (
    mapper(
        "ingest",
        "the reference's PCA (log-normalised, scaled, fitted on its training cells), the query projected onto it "
        "(scanpy's tl.ingest with its PCA embedding): the baseline",
        PCA,
        plan="none",
        baseline="",
        deterministic=True,
    ),
    mapper(
        "reference_vae",
        "a count VAE trained on the reference's cells alone; query cells embedded as reference cells (no adaptation)",
        COUNT_VAE,
    ),
    mapper(
        "scarches",
        "scArches' surgery (Lotfollahi et al. 2022) of the reference_vae of the same seed: the query's batches are new "
        "input columns of its first encoder and decoder layers, trained on the query's cells with every reference "
        "weight frozen",
        {**NEURAL_TRAINING, "patience": 15},
        uses_models=("reference_vae",),
        compared_with=("reference_vae", "retrained_vae", "scvi_scarches"),
    ),
    mapper(
        "retrained_vae",
        "the same count VAE trained from scratch on reference and query together, conditioned on both: the costlier "
        "route surgery spares",
        COUNT_VAE,
    ),
    family(
        module="lifedl.models.peers",
        task="reference_mapping",
        plan="none",
        baseline="ingest",
        needs=("labels", "condition", "control"),
        environment="peer",
        default_run=False,
    )(
        "scvi_scarches",
        "scvi-tools' SCVI with its scArches settings on the reference, load_query_data and the query's training (its "
        "tutorial), in its own environment: scarches' peer",
        # SCVI's sizes with the tutorial's two layers; its rule's 400 epochs for the reference, the tutorial's 200
        # for the query, both stopped early on the validation cells
        {
            "n_latent": 10,
            "n_hidden": 128,
            "n_layers": 2,
            "batch_size": 128,
            "max_epochs": 400,
            "query_max_epochs": 200,
            "patience": 45,
        },
    ),
)
