from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.learning_curve(
        qc_h5ad=snakemake.input.qc,
        pretrained=snakemake.input.models[0],
        output=snakemake.output.summary,
        runs_output=snakemake.output.runs,
        figure=snakemake.output.figure,
        work_dir=f"results/{snakemake.wildcards.dataset}/learning_curve/{snakemake.wildcards.arch}",
        settings=steps.TrainSettings.of_job(snakemake),
        fractions=snakemake.params.fractions,
        seeds=snakemake.params.seeds,
    )
