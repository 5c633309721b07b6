from lifedl import steps
from lifedl.logs import logged
from lifedl.train.tracking import resolve_tracking_uri

with logged(snakemake.log[0]):
    steps.likelihood_comparison(
        qc_h5ad=snakemake.input[0],
        output=snakemake.output.summary,
        runs_output=snakemake.output.runs,
        work_dir=f"results/{snakemake.wildcards.dataset}/likelihoods",
        dataset=snakemake.wildcards.dataset,
        vae_params=snakemake.params.vae_params,
        max_epochs=snakemake.params.max_epochs,
        seeds=snakemake.params.seeds,
        tracking_uri=resolve_tracking_uri(snakemake.config["mlflow"]["tracking_uri"]),  # not a param: see the function
        threads=snakemake.threads,
        training=snakemake.params.training,
    )
