from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.embed(
        qc_h5ad=snakemake.input.h5ad,
        checkpoint=snakemake.input.checkpoint,
        output=snakemake.output.embedding,
        metrics=snakemake.output.metrics,
        arch=snakemake.wildcards.arch,
        dataset=snakemake.wildcards.dataset,
        n_neighbors=snakemake.params.n_neighbors,
        resolutions=snakemake.params.resolutions,
        default_resolution=snakemake.params.default_resolution,
        seed=snakemake.params.seed,
    )
