from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.leave_one_type_out(
        qc_h5ad=snakemake.input[0],
        output=snakemake.output.summary,
        runs_output=snakemake.output.runs,
        work_dir=f"results/{snakemake.wildcards.dataset}/loto/{snakemake.wildcards.arch}",
        settings=steps.TrainSettings.of_job(snakemake),
        seeds=snakemake.params.seeds,
    )
