from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.generate(
        qc_h5ad=snakemake.input.qc_h5ad,
        checkpoint=snakemake.input.checkpoint,
        run_json=snakemake.input.run_json,
        generated_output=snakemake.output.generated,
        metrics_output=snakemake.output.metrics,
        umap_output=snakemake.output.umap,
        means_output=snakemake.output.means,
        seed=snakemake.params.seed,
    )
