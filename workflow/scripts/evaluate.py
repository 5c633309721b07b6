from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.evaluate(
        embedding=snakemake.input.embedding,
        run_json=snakemake.input.run_json,
        output=snakemake.output[0],
        arch=snakemake.wildcards.arch,
        dataset=snakemake.wildcards.dataset,
        resolutions=snakemake.params.resolutions,
        default_resolution=snakemake.params.default_resolution,
        seed=snakemake.params.seed,
    )
