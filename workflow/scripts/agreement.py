from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.clustering_agreement(
        embeddings=dict(zip(snakemake.params.archs, snakemake.input)),
        output=snakemake.output[0],
        resolution=snakemake.params.resolution,
    )
