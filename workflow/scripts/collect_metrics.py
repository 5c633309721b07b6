from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.collect_metrics(list(snakemake.input.metrics), list(snakemake.input.runs), snakemake.output[0])
