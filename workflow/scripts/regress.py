from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.regress(
        qc_h5ad=snakemake.input.qc_h5ad,
        checkpoint=snakemake.input.checkpoint,
        output=snakemake.output.metrics,
        predictions=snakemake.output.predictions,
        arch=snakemake.wildcards.arch,
        dataset=snakemake.wildcards.dataset,
    )
