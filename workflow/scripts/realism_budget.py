from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.realism_budget(
        qc_h5ad=snakemake.input[0],
        output=snakemake.output[0],
        work_dir=f"results/{snakemake.wildcards.dataset}/realism_budget/{snakemake.wildcards.arch}",
        settings=steps.TrainSettings.of_job(snakemake),
        max_epochs=snakemake.params.max_epochs,
        every=snakemake.params.every,
    )
