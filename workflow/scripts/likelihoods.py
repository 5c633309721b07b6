from lifedl import steps
from lifedl.logs import logged
from lifedl.models import LIKELIHOOD_COMPARISON_ARCH

with logged(snakemake.log[0]):
    steps.likelihood_comparison(
        qc_h5ad=snakemake.input[0],
        output=snakemake.output.summary,
        runs_output=snakemake.output.runs,
        work_dir=f"results/{snakemake.wildcards.dataset}/likelihoods",
        settings=steps.TrainSettings.of_job(snakemake, arch=LIKELIHOOD_COMPARISON_ARCH),
        max_epochs=snakemake.params.max_epochs,
        seeds=snakemake.params.seeds,
    )
