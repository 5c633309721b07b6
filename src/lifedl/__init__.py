"""lifedl: a workflow-managed, reproducible deep-learning analysis for the life sciences.

In a notebook: ``lifedl.fit(adata, "vae")``, ``model.embed(adata)``, ``lifedl.load(path)`` (``lifedl.api``).
"""

__version__ = "0.1.0"
__all__ = ["Model", "fit", "load"]


def __getattr__(name: str):
    # Lazily: the workflow imports lifedl while Snakemake parses it, which must not pull in torch.
    if name in __all__:
        from lifedl import api

        return getattr(api, name)
    raise AttributeError(f"module 'lifedl' has no attribute {name!r}")


def __dir__() -> list[str]:
    # tab completion and dir() show the lazy names too
    return sorted([*globals(), *__all__])
