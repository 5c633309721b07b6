from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.perturbation(
        qc_h5ad=snakemake.input.qc_h5ad,
        checkpoint=snakemake.input.checkpoint,
        run_json=snakemake.input.run_json,
        predicted_output=snakemake.output.predicted,
        metrics_output=snakemake.output.metrics,
        figure_output=snakemake.output.figure,
        seed=snakemake.params.seed,
    )
