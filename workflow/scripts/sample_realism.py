from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.sample_realism(
        qc_h5ad=snakemake.input.qc_h5ad,
        generator=snakemake.input.generator,
        samplers=dict(zip(snakemake.params.samplers, snakemake.input.samplers)),
        output=snakemake.output[0],
        seed=snakemake.params.seed,
    )
