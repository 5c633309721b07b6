"""Where a trained model came from: the package versions and the git commit of the code that trained it."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata

VERSIONED_PACKAGES = (
    "lifedl",
    "torch",
    "lightning",
    "scanpy",
    "anndata",
    "mlflow",
    "numpy",
    "scikit-learn",
    "snakemake",
)

PYFUNC_NEEDS = ("torch", "anndata", "scanpy", "mlflow", "numpy", "scikit-learn")  # to load and run a logged model


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _git(directory: str | os.PathLike, *arguments: str) -> str | None:
    """A git command's output in ``directory``; None outside a git checkout or without git."""
    try:
        return subprocess.run(
            ["git", *arguments], cwd=directory, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit(directory: str | os.PathLike = ".") -> str:
    return _git(directory, "rev-parse", "HEAD") or "unknown"


# What `make docs` writes: a page rendered from an earlier run changes no code (a resumed make reproduce ran after
# one and marked every later model "with uncommitted changes")
RENDERED = ("docs/results.md", "docs/results")


def git_dirty(directory: str | os.PathLike = ".") -> str:
    """Whether tracked files other than the rendered results page differ from the commit, so the code that ran is
    not the commit's: "true", "false", or "unknown" outside a git checkout."""
    top = _git(directory, "rev-parse", "--show-toplevel")
    excluded = [f":(exclude,top){path}" for path in RENDERED]
    changed = (
        None if top is None else _git(directory, "status", "--porcelain", "--untracked-files=no", "--", top, *excluded)
    )
    return "unknown" if changed is None else str(bool(changed)).lower()
