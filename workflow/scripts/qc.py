from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.qc(
        snakemake.input[0],
        snakemake.output.h5ad,
        snakemake.output.metrics_figure,
        snakemake.output.features_figure,
        snakemake.params.qc,
        snakemake.params.split,
    )
