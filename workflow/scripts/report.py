from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.report(snakemake.params.plan, snakemake.params.tracking_uri, snakemake.output[0])
