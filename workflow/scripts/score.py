from lifedl import steps
from lifedl.logs import logged

# The classify, regress and design rules: score what the model predicts or designs, by the architecture's task.
with logged(snakemake.log[0]):
    steps.score_held_out(
        qc_h5ad=snakemake.input.qc_h5ad,
        checkpoint=snakemake.input.checkpoint,
        output=snakemake.output.metrics,
        predictions=snakemake.output.predictions,
        arch=snakemake.wildcards.arch,
        dataset=snakemake.wildcards.dataset,
        curves=snakemake.output.get("curves"),  # the design rule's best-so-far curves
    )
