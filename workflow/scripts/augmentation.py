from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.augmentation(
        qc_h5ad=snakemake.input[0],
        output=snakemake.output.summary,
        runs_output=snakemake.output.runs,
        work_dir=f"results/{snakemake.wildcards.dataset}/augmentation/{snakemake.wildcards.arch}",
        settings=steps.TrainSettings.of_job(snakemake),
        rare_type=snakemake.params.rare_type,
        n_rare=snakemake.params.n_rare,
        seeds=snakemake.params.seeds,
        used_hyper_parameters=snakemake.params.used_hyper_parameters,
    )
