from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.filter_motifs(
        checkpoint=snakemake.input.checkpoint,
        database=snakemake.input.database,
        output=snakemake.output[0],
        arch=snakemake.wildcards.arch,
        dataset=snakemake.wildcards.dataset,
    )
