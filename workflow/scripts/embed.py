from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.embed(
        snakemake.input.h5ad,
        snakemake.input.checkpoint,
        snakemake.output[0],
        snakemake.wildcards.arch,
        snakemake.params.n_neighbors,
        snakemake.params.resolutions,
        snakemake.params.seed,
    )
