from lifedl import steps
from lifedl.logs import logged
from lifedl.train.tracking import resolve_tracking_uri

with logged(snakemake.log[0]):
    steps.report(
        snakemake.params.plan, resolve_tracking_uri(snakemake.config["mlflow"]["tracking_uri"]), snakemake.output[0]
    )
