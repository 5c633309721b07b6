from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.train(
        qc_h5ad=snakemake.input[0],
        checkpoint=snakemake.output.checkpoint,
        run_json=snakemake.output.run_json,
        settings=steps.TrainSettings.of_job(snakemake),
        history=snakemake.output.history,
        models=getattr(snakemake.input, "models", []),  # checkpoints of the models it uses (none for most)
    )
