"""url: sources against a real HTTP server on 127.0.0.1 serving files this test writes."""

import hashlib

import pytest

from lifedl.data import DatasetSpec, SimulationParams, load_source, simulate_counts
from lifedl.errors import LifedlError


def _h5ad(root):
    adata = simulate_counts(SimulationParams(n_cells=50, n_genes=30, n_types=2, seed=0))
    path = root / "cells.h5ad"
    adata.write_h5ad(path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_good_checksum_downloads_and_reads_counts(http_server, tmp_path):
    root, base = http_server
    path, digest = _h5ad(root)
    cache = tmp_path / "cache"
    spec = DatasetSpec("cells", f"url:{base}/cells.h5ad", checksum=f"sha256:{digest}", labels="cell_type")
    adata = load_source(spec, cache)
    assert adata.shape == (50, 30)
    # cached by content: its own checksum's folder
    assert (cache / "url" / f"sha256-{digest[:16]}" / "cells.h5ad").read_bytes() == path.read_bytes()
    assert adata.layers["counts"].sum() > 0
    # the spec travels with the data (uns['lifedl_dataset']): later steps read the roles there
    stored = DatasetSpec.from_adata(adata, file="raw.h5ad")
    assert (stored.id, stored.source, stored.kind, stored.labels) == ("cells", spec.source, "cells", "cell_type")
    assert stored.where == "raw.h5ad"


def test_wrong_checksum_fails_clearly_and_leaves_no_file(http_server, tmp_path):
    root, base = http_server
    _h5ad(root)
    cache = tmp_path / "cache"
    spec = DatasetSpec("cells", f"url:{base}/cells.h5ad", checksum="sha256:" + "0" * 64, sheet="my/datasets.tsv")
    with pytest.raises(LifedlError) as error:
        load_source(spec, cache)
    message = str(error.value)
    assert "my/datasets.tsv" in message and "'cells'" in message and "does not match the checksum" in message
    leftovers = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert leftovers == []


def test_missing_checksum_and_bad_scheme_are_rejected_before_downloading(tmp_path):
    with pytest.raises(LifedlError, match="needs the file's checksum"):
        load_source(DatasetSpec("x", "url:http://127.0.0.1:9/x.h5ad"), tmp_path)
    with pytest.raises(LifedlError, match="scheme 'gopher'"):
        load_source(DatasetSpec("x", "url:gopher://127.0.0.1/x.h5ad", checksum="0" * 64), tmp_path)


def test_missing_label_column_names_the_sheet_and_column(http_server, tmp_path):
    root, base = http_server
    _, digest = _h5ad(root)
    spec = DatasetSpec("cells", f"url:{base}/cells.h5ad", checksum=digest, labels="celltype")
    with pytest.raises(LifedlError, match="names obs column 'celltype' as its labels"):
        load_source(spec, tmp_path / "cache")


def _matrix_tarball(path, folder, n_cells, seed, symbols=None):
    """A 10x matrix folder (matrix.mtx.gz, features.tsv.gz, barcodes.tsv.gz) of ``n_cells`` cells, tarred."""
    import gzip
    import io
    import tarfile

    import numpy as np
    import scipy.io
    import scipy.sparse as sp

    counts = sp.random(
        20, n_cells, density=0.5, random_state=seed, format="coo", data_rvs=lambda n: np.arange(1, n + 1)
    )
    files = {"matrix.mtx.gz": io.BytesIO(), "features.tsv.gz": None, "barcodes.tsv.gz": None}
    scipy.io.mmwrite(files["matrix.mtx.gz"], counts.astype(np.int64))
    contents = {
        "matrix.mtx.gz": gzip.compress(files["matrix.mtx.gz"].getvalue()),
        "features.tsv.gz": gzip.compress(
            "".join(f"ENSG{i}\t{(symbols or {}).get(i, f'GENE{i}')}\tGene Expression\n" for i in range(20)).encode()
        ),
        "barcodes.tsv.gz": gzip.compress("".join(f"CELL{seed}-{i}\n" for i in range(n_cells)).encode()),
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, data in contents.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_archives_of_one_name_give_each_data_set_its_own_cells(http_server, tmp_path):
    """Two rows whose URLs end in the same file name, each with its own checksum, must not share a cache entry
    or an extracted folder."""
    root, base = http_server
    for folder in ("ta", "tb"):
        (root / folder).mkdir()
    # inner folders that sort in download order: a shared extraction folder would hand tb the first one, ta's
    digests = {
        "ta": _matrix_tarball(root / "ta/matrix.tar.gz", "a_filtered", 30, 1),
        "tb": _matrix_tarball(root / "tb/matrix.tar.gz", "b_filtered", 12, 2),
    }
    cache = tmp_path / "cache"
    read = {
        folder: load_source(DatasetSpec(folder, f"url:{base}/{folder}/matrix.tar.gz", checksum=digests[folder]), cache)
        for folder in ("ta", "tb")
    }
    assert read["ta"].n_obs == 30 and read["tb"].n_obs == 12
    assert read["tb"].obs_names[0].startswith("CELL2-")
    assert not list(cache.rglob(".extracting-*"))  # no half-extracted folder left


def test_a_gene_named_nan_is_named_by_its_id(http_server, tmp_path, capsys):
    root, base = http_server
    digest = _matrix_tarball(root / "matrix.tar.gz", "filtered", 10, 3, symbols={4: "nan"})
    adata = load_source(DatasetSpec("x", f"url:{base}/matrix.tar.gz", checksum=digest), tmp_path / "cache")
    assert adata.var_names[4] == "ENSG4" and not adata.var_names.isna().any()
    assert "named by their gene ids instead" in capsys.readouterr().err
