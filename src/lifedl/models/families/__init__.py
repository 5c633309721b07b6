"""The registry's entries, one module per family (its shared defaults and its ``ENTRIES``): a new family is a new
module here, found without a list to edit. Families come in module-name order, entries in their module's order;
a data set's architectures keep that order (config, jobs, tables, figure panels)."""

from __future__ import annotations

import importlib
import pkgutil


def family_entries() -> list:
    """Every family's entries, families in module-name order."""
    modules = sorted(info.name for info in pkgutil.iter_modules(__path__))
    return [entry for name in modules for entry in importlib.import_module(f"{__name__}.{name}").ENTRIES]
