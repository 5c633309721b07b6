from lifedl import steps
from lifedl.config import config_sha256
from lifedl.logs import logged
from lifedl.train.tracking import resolve_tracking_uri

with logged(snakemake.log[0]):
    steps.train(
        qc_h5ad=snakemake.input[0],
        checkpoint=snakemake.output.checkpoint,
        run_json=snakemake.output.run_json,
        history=snakemake.output.history,
        arch=snakemake.wildcards.arch,
        dataset=snakemake.wildcards.dataset,
        hyper_parameters=snakemake.params.hyper_parameters,
        seed=snakemake.params.seed,
        models=getattr(snakemake.input, "models", []),  # checkpoints of the models it uses (none for most)
        tracking_uri=resolve_tracking_uri(snakemake.config["mlflow"]["tracking_uri"]),  # not a param: see the function
        threads=snakemake.threads,
        training=snakemake.params.training,
        config_sha256=config_sha256(snakemake.config),  # not a param: a clustering change must not retrain
        tags={"snakemake_rule": snakemake.rule},
        register=snakemake.config["mlflow"]["register_models"],
    )
