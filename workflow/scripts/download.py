from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.download(
        snakemake.params.row,
        snakemake.params.sheet,
        snakemake.params.cache_dir,
        snakemake.output[0],
        limits=snakemake.config["download"],  # not a param: raising a limit must not re-download (and retrain) all
    )
