from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.figure(snakemake.wildcards.figure, dict(snakemake.input), snakemake.output[0], snakemake.params.options)
