from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.seed_summary(
        metric_files=snakemake.input.metrics,
        seeds=snakemake.params.seeds,
        output=snakemake.output.summary,
        comparisons_output=snakemake.output.comparisons,
    )
