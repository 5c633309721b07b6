from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.loadings_enrichment(
        embeddings=dict(zip(snakemake.params.archs, snakemake.input)),
        output=snakemake.output.summary,
        factors_output=snakemake.output.factors,
        n_factors=snakemake.params.n_factors,
    )
