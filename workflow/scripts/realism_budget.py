from lifedl import steps
from lifedl.logs import logged
from lifedl.train.tracking import resolve_tracking_uri

with logged(snakemake.log[0]):
    steps.realism_budget(
        qc_h5ad=snakemake.input[0],
        output=snakemake.output[0],
        work_dir=f"results/{snakemake.wildcards.dataset}/realism_budget/{snakemake.wildcards.arch}",
        arch=snakemake.wildcards.arch,
        dataset=snakemake.wildcards.dataset,
        hyper_parameters=snakemake.params.hyper_parameters,
        max_epochs=snakemake.params.max_epochs,
        every=snakemake.params.every,
        seed=snakemake.params.seed,
        tracking_uri=resolve_tracking_uri(snakemake.config["mlflow"]["tracking_uri"]),  # not a param: see likelihoods
        threads=snakemake.threads,
        training=snakemake.params.training,
    )
