from lifedl import steps
from lifedl.config import config_sha256
from lifedl.logs import logged
from lifedl.train.tracking import resolve_tracking_uri

# One more seed of a classifier or regressor: trained (an MLflow run named '<arch> seed <n>', not registered), then scored on the
# same held-out rows as the main model.
with logged(snakemake.log[0]):
    arch, seed = snakemake.wildcards.arch, int(snakemake.wildcards.seed)
    steps.train(
        qc_h5ad=snakemake.input[0],
        checkpoint=snakemake.output.checkpoint,
        run_json=snakemake.output.run_json,
        history=snakemake.output.history,
        arch=arch,
        dataset=snakemake.wildcards.dataset,
        hyper_parameters=snakemake.params.hyper_parameters,
        seed=seed,
        tracking_uri=resolve_tracking_uri(snakemake.config["mlflow"]["tracking_uri"]),  # not a param: see train
        threads=snakemake.threads,
        training=snakemake.params.training,
        config_sha256=config_sha256(snakemake.config),
        tags={"snakemake_rule": snakemake.rule, "replicate_of": arch},
        run_name=f"{arch} seed {seed}",
        register=False,
    )
    steps.score_held_out(
        qc_h5ad=snakemake.input[0],
        checkpoint=snakemake.output.checkpoint,
        output=snakemake.output.metrics,
        predictions=snakemake.output.predictions,
        arch=arch,
        dataset=snakemake.wildcards.dataset,
    )
