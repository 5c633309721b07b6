"""Outputs are shareable: written atomically, with the permissions the umask gives, like any other tool's."""

import os
import stat

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from lifedl.io import save_figure, write_h5ad, write_json, write_tsv


def _write_every_kind(directory):
    write_h5ad(ad.AnnData(np.ones((3, 2), dtype=np.float32)), directory / "a.h5ad")
    write_tsv(pd.DataFrame({"x": [1, 2]}), directory / "a.tsv")
    write_json({"x": 1}, directory / "a.json")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    save_figure(fig, directory / "a.png")
    return sorted(directory.iterdir())


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_outputs_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        written = _write_every_kind(tmp_path)
    finally:
        os.umask(previous)
    assert [p.name for p in written] == ["a.h5ad", "a.json", "a.png", "a.tsv"]  # no temporary file left
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {p.name: oct(mode) for p in written}


def test_a_rendered_results_page_leaves_the_checkout_clean_and_a_code_change_does_not(tmp_path):
    """make docs rewrites docs/results.md in the checkout; a run resumed after it runs the commit's code."""
    import subprocess

    from lifedl.train.provenance import git_dirty

    def git(*arguments):
        subprocess.run(["git", *arguments], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "docs/results").mkdir(parents=True)
    (tmp_path / "src").mkdir()
    for name in ("docs/results.md", "docs/results/figure.png", "src/code.py"):
        (tmp_path / name).write_text("first\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    (tmp_path / "docs/results.md").write_text("rendered\n")
    (tmp_path / "docs/results/figure.png").write_text("drawn\n")
    assert git_dirty(tmp_path / "src") == "false"
    (tmp_path / "src/code.py").write_text("changed\n")
    assert git_dirty(tmp_path / "src") == "true"
