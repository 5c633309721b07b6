from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.motif_database(
        source=snakemake.params.source,
        checksum=snakemake.params.checksum,
        tax_group=snakemake.params.tax_group,
        cache_dir=snakemake.config["cache_dir"],
        output=snakemake.output[0],
    )
