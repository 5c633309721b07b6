"""The one exception type lifedl raises for bad input.

Its message always says which file or config field is wrong and how to fix it,
so that a user reading a Snakemake log sees the cause, not a traceback.
"""


class LifedlError(RuntimeError):
    """Bad input or configuration, with a message that names the fix."""
