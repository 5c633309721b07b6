from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.figures(
        clustered=dict(zip(snakemake.params.archs, snakemake.input.clustered)),
        run_jsons=dict(zip(snakemake.params.trained, snakemake.input.run_jsons)),
        labels=snakemake.params.labels,
        default_resolution=snakemake.params.default_resolution,
        umap_output=snakemake.output.umap,
        curves_output=snakemake.output.curves,
    )
