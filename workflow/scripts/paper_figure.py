from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.paper_figure(
        snakemake.params.kind, dict(snakemake.input), snakemake.output[0], snakemake.params.labels, snakemake.params.seed
    )
