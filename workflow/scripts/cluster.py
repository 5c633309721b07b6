from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.cluster(
        snakemake.input[0], snakemake.output[0], snakemake.wildcards.arch, snakemake.params.resolutions, snakemake.params.seed
    )
