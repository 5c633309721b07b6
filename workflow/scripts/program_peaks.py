from lifedl import steps
from lifedl.logs import logged

with logged(snakemake.log[0]):
    steps.program_peaks(snakemake.input[0], snakemake.output[0], snakemake.wildcards.arch)
