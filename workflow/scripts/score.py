from lifedl import steps
from lifedl.logs import logged

# The score rule: what the model predicts or designs, scored on the held-out rows by its task's scorer.
with logged(snakemake.log[0]):
    steps.score_held_out(
        qc_h5ad=snakemake.input.qc_h5ad,
        checkpoint=snakemake.input.checkpoint,
        output=snakemake.output.metrics,
        predictions=snakemake.output.predictions,
        arch=snakemake.wildcards.arch,
        dataset=snakemake.wildcards.dataset,
        curves=snakemake.output.curves,
    )
