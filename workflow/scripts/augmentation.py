from lifedl import steps
from lifedl.logs import logged
from lifedl.train.tracking import resolve_tracking_uri

with logged(snakemake.log[0]):
    steps.augmentation(
        qc_h5ad=snakemake.input[0],
        output=snakemake.output.summary,
        runs_output=snakemake.output.runs,
        work_dir=f"results/{snakemake.wildcards.dataset}/augmentation/{snakemake.wildcards.arch}",
        arch=snakemake.wildcards.arch,
        dataset=snakemake.wildcards.dataset,
        rare_type=snakemake.params.rare_type,
        n_rare=snakemake.params.n_rare,
        hyper_parameters=snakemake.params.hyper_parameters,
        seeds=snakemake.params.seeds,
        tracking_uri=resolve_tracking_uri(snakemake.config["mlflow"]["tracking_uri"]),  # not a param: see likelihoods
        threads=snakemake.threads,
        training=snakemake.params.training,
    )
