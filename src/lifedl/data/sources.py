"""Where a data set comes from: ``builtin:``, ``url:``, ``pypi:`` or ``simulated:`` (column ``source`` of datasets.tsv).

``pypi:NAME==VERSION#MEMBER=LABEL[/SPLIT];...`` takes files out of a pinned wheel on the package index
(fetched with pip, no dependencies, never installed; checked against the sheet's sha256): real data
that ships inside packages, e.g. the ChIP-seq peak sequences in janggu's wheel. Each member is a file
in the wheel; for ``format`` ``fasta`` it holds DNA sequences of class LABEL, in split SPLIT (default train); for
``csv`` of kind ``sequences``, peptides with their classes (a scikit-learn-style labelled CSV, as modlAMP ships;
:func:`lifedl.data.sequences.sequences_from_labelled_csv`); for ``h5ad`` (cells) it is an AnnData file of counts, read as a ``url:`` h5ad is, several of them the batches LABEL of
one data set. Members inside ``NAME-VERSION/`` are files of the source distribution (.tar.gz), fetched instead of
the wheel (e.g. the CITE-seq test files in scvi 0.6.8's sdist).

Every source ends in an AnnData checked for its data kind (column ``kind``): ``cells`` hold
integer CSR counts in ``layers['counts']`` (and in ``X``), checked by
:func:`lifedl.pp.counts.check_counts`; ``sequences`` hold DNA or peptides as integer codes in ``X``
(``lifedl.data.sequences``). The dataset spec (its roles) is stored in ``uns['lifedl_dataset']``.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from lifedl.data.simulate import SimulationParams, simulate_counts
from lifedl.data.spec import TEST, UNS_KEY, DatasetSpec, stratified_test
from lifedl.errors import LifedlError
from lifedl.io import atomic_path, current_umask
from lifedl.pp.counts import check_counts
from lifedl.pp.protein import PROTEIN_KEY

BUILTIN_DATASETS = ("pbmc68k_reduced",)
URL_FORMATS = ("h5ad", "10x_h5", "10x_mtx_tar")
URL_SCHEMES = ("http", "https", "file")
# fasta: DNA, one class per file; csv: molecules (a 'smiles' column) or labelled peptides; h5ad: cells, an AnnData
# file of counts; tif: a microscopy image (or z-stack) and its instance mask
PYPI_FORMATS = ("fasta", "csv", "h5ad", "tif")
SCVI_PROTEINS = ("protein_expression", "protein_names")  # scvi-tools' older CITE-seq layout: obsm array, uns names
PYPI_FORMATS_OF_KIND = {
    "sequences": ("fasta", "csv"),
    "graphs": ("csv",),
    "cells": ("h5ad",),
    "cells+protein": ("h5ad",),
    "images": ("tif",),
}
DENSE_ROWS_PER_BLOCK = 2000  # a dense count matrix is made sparse this many rows at a time


@dataclasses.dataclass(frozen=True)
class DownloadLimits:
    """Bounds on one ``url:`` download besides the 60 s timeout of each read (config ``download``): its total wall
    time and its size, so a server that trickles bytes or a wrong link to a huge file cannot hold a job for hours."""

    max_seconds: float = 3600
    max_bytes: int = 100 * 2**30

    @classmethod
    def from_config(cls, download: Mapping[str, float]) -> DownloadLimits:
        """From the config's ``download`` block (``max_seconds``, ``max_gib``); a key left out keeps its default."""
        default = cls()
        return cls(
            max_seconds=float(download.get("max_seconds", default.max_seconds)),
            max_bytes=round(download.get("max_gib", default.max_bytes / 2**30) * 2**30),
        )


def load_source(spec: DatasetSpec, cache_dir: str | Path, limits: DownloadLimits = DownloadLimits()) -> ad.AnnData:
    """Read the data set that ``spec`` names into AnnData, checked for its kind, with the spec in ``uns``;
    ``url:`` files (the data and a programs file) are downloaded within ``limits``."""
    readers = {
        "builtin": _load_builtin,
        "url": lambda spec, cache_dir: _load_url(spec, cache_dir, limits),
        "pypi": _load_pypi,
        "simulated": _load_simulated,
        "doublets": lambda spec, cache_dir: _load_doublets(spec, cache_dir, limits),
        "sample": lambda spec, cache_dir: _load_sample(spec, cache_dir, limits),
    }
    if spec.source_kind not in readers:
        raise LifedlError(
            f"{spec.sheet}: dataset '{spec.id}' has source '{spec.source}'; the source must start with "
            "'builtin:', 'url:', 'pypi:', 'simulated:', 'doublets:' or 'sample:'."
        )
    allowed = {
        "sequences": ("simulated", "pypi"),
        "graphs": ("pypi",),
        "images": ("pypi", "simulated"),
        "peaks": ("simulated",),
    }
    allowed = allowed.get(spec.kind)
    if allowed and spec.source_kind not in allowed:
        raise LifedlError(
            f"{spec.sheet}: dataset '{spec.id}' of kind '{spec.kind}' has source '{spec.source}'; {spec.kind} come "
            f"from {' or '.join(f'{kind}:' for kind in allowed)} sources so far (pypi: files in a pinned wheel)."
        )
    adata = readers[spec.source_kind](spec, Path(cache_dir))
    what = f"{spec.sheet}: dataset '{spec.id}' ({spec.source})"
    rows = {
        "cells": "cells",
        "cells+protein": "cells",
        "cells+peaks": "cells",
        "peaks": "cells",
        "sequences": "sequences",
        "images": "tiles",
    }.get(spec.kind, "rows")
    if adata.n_obs == 0 or (rows == "cells" and adata.n_vars == 0):
        raise LifedlError(
            f"{what} holds {adata.n_obs} {rows} x {adata.n_vars} features: nothing to analyse. Check that the "
            "source is the right file (not an empty export or a filtered-out sample)."
        )
    if spec.kind in ("cells", "cells+protein", "cells+peaks", "peaks"):
        check_counts(adata.layers["counts"], what)
    if spec.kind == "cells+peaks":
        if (
            "peak_counts" not in adata.obsm
            or len(adata.uns.get("peak_regions", ())) != adata.obsm["peak_counts"].shape[1]
        ):
            raise LifedlError(
                f"{what}: a cells+peaks data set holds the same cells' region counts in obsm['peak_counts'] and their "
                "names in uns['peak_regions'] (one per column); simulate one with n_peaks, or give both."
            )
        check_counts(adata.obsm["peak_counts"], f"{what}: obsm['peak_counts']")
    if spec.kind == "cells+protein":
        from lifedl.pp.protein import check_proteins

        check_proteins(adata, what)
    elif spec.kind == "sequences":
        from lifedl.data.sequences import check_sequences

        check_sequences(adata, what)
    duplicated = adata.var_names[adata.var_names.duplicated()].unique()
    if len(duplicated):  # one symbol for two Ensembl ids is common in 10x data: made unique as the 10x readers do
        adata.var_names_make_unique()
        print(
            f"lifedl warning: {what}: {len(duplicated)} gene names occur more than once (e.g. {list(duplicated[:3])}); "
            "made unique by appending -1, -2, ... (anndata's var_names_make_unique(), as scanpy's 10x readers do)",
            file=sys.stderr,
            flush=True,
        )
    duplicated = adata.obs_names[adata.obs_names.duplicated()].unique()
    if len(duplicated):  # two cells under one barcode: usually concatenated samples, which need telling apart
        raise LifedlError(
            f"{what}: {len(duplicated)} duplicate cell names (e.g. {list(duplicated[:3])}). Make them unique "
            "before use (e.g. prefix each sample's barcodes, or anndata's obs_names_make_unique())."
        )
    for role in ("labels", "batch", "condition", "split"):  # the roles that name obs columns (see ROLES)
        column = getattr(spec, role)
        if column and column not in adata.obs:
            raise LifedlError(
                f"{spec.sheet}: dataset '{spec.id}' names obs column '{column}' as its {role}, but the data "
                f"has only {sorted(adata.obs.columns)}. Fix the '{role}' column of that row (or leave it empty)."
            )
    if spec.labels and spec.kind != "graphs":  # a molecule's label is a measured value, checked by its reader
        check_labels(adata.obs[spec.labels], f"{what}: obs column '{spec.labels}' (its labels)")
    if spec.programs:
        adata.uns["gene_programs"] = {
            name: np.array(genes, dtype=object) for name, genes in _load_programs(spec, cache_dir, limits).items()
        }
    adata.uns[UNS_KEY] = spec.to_uns()
    return adata


def check_labels(labels, what: str) -> None:
    """Class labels to score against: none missing, and at least two classes (found at download, not by a figure
    or an evaluation after training)."""
    missing = labels.isna().to_numpy()
    if missing.any():
        examples = list(labels.index[missing][:3])
        raise LifedlError(
            f"{what} has {int(missing.sum())} missing values (e.g. rows {examples}). Fill them or drop those rows "
            "before use, or leave the 'labels' column of the row empty to run without labels."
        )
    classes = labels.astype(str).unique()
    if len(classes) < 2:
        raise LifedlError(
            f"{what} holds one class only ({list(classes)}); clusters and classifiers are scored against at least "
            "two. Point 'labels' at a column with two or more classes, or leave it empty."
        )


def _load_programs(spec: DatasetSpec, cache_dir: Path, limits: DownloadLimits) -> dict[str, list[str]]:
    from lifedl.data.programs import read_gmt

    what = f"{spec.sheet}: dataset '{spec.id}' programs"
    if spec.programs.startswith("url:"):
        path = fetch_url(spec.programs.removeprefix("url:"), spec.programs_checksum, Path(cache_dir), what, limits)
    else:
        path = Path(spec.programs)
        if not path.is_file():
            raise LifedlError(f"{what}: GMT file {path} does not exist; fix the 'programs' column.")
    return read_gmt(path)


def _as_counts_anndata(adata: ad.AnnData, counts) -> ad.AnnData:
    counts = sp.csr_matrix(counts)
    counts.sort_indices()
    adata.X = counts.copy()
    adata.layers["counts"] = counts
    return adata


def recover_counts_from_lognormalised(log_normalised, total_counts: np.ndarray, target_sum: float = 1e4):
    """Undo ``log1p(normalize_total(target_sum))``: rint(expm1(x) * total_counts / target_sum)."""
    scaled = sp.csr_matrix(log_normalised, dtype=np.float64, copy=True)
    scaled.data = np.rint(np.expm1(scaled.data) * np.repeat(total_counts, np.diff(scaled.indptr)) / target_sum)
    scaled.eliminate_zeros()
    return scaled.astype(np.int32)


def _load_builtin(spec: DatasetSpec, cache_dir: Path) -> ad.AnnData:
    if spec.argument != "pbmc68k_reduced":
        raise LifedlError(
            f"{spec.sheet}: dataset '{spec.id}' asks for builtin '{spec.argument}'; available: {BUILTIN_DATASETS}."
        )
    import scanpy as sc

    bundled = sc.datasets.pbmc68k_reduced()
    # raw.X holds log1p(counts / n_counts * 1e4) over 765 genes; n_counts is each cell's total UMIs.
    counts = recover_counts_from_lognormalised(bundled.raw.X, bundled.obs["n_counts"].to_numpy())
    adata = ad.AnnData(obs=bundled.obs[["bulk_labels", "n_counts"]].copy(), var=bundled.raw.var[[]].copy())
    # for classifiers (sheet column 'split'): 30 % of each bulk label held out as test cells, seeded
    test = stratified_test(adata.obs["bulk_labels"].astype(str).to_numpy(), 0.3, np.random.default_rng(0))
    adata.obs["random_split"] = pd.Categorical(np.where(test, TEST, "train"), categories=["train", TEST])
    return _as_counts_anndata(adata, counts)


def _load_simulated(spec: DatasetSpec, cache_dir: Path) -> ad.AnnData:
    if spec.kind == "peaks":
        from lifedl.data.chromatin import PeakSimulationParams, simulate_peaks

        return _simulate(spec, PeakSimulationParams, simulate_peaks)
    if spec.kind == "images":
        from lifedl.data.images import CellImageParams, simulate_cell_images

        return _simulate(spec, CellImageParams, simulate_cell_images)
    if spec.kind == "sequences":
        from lifedl.data.sequences import SequenceSimulationParams, simulate_sequences

        return _simulate(spec, SequenceSimulationParams, simulate_sequences)
    return _simulate(spec, SimulationParams, simulate_counts)


def _simulate(spec: DatasetSpec, params_class, simulate) -> ad.AnnData:
    """Parse ``simulated:key=value,...`` into ``params_class`` and run ``simulate``."""
    params = _parse_params(spec, spec.argument, params_class, "simulation", "simulated:n_cells=2000,n_types=5")
    try:
        return simulate(params)
    except ValueError as error:
        raise LifedlError(f"{spec.sheet}: dataset '{spec.id}': {error}") from error


def _parse_params(spec: DatasetSpec, text: str, params_class, what: str, example: str):
    """``key=value,...`` as ``params_class`` (each value of its field's type); unknown keys and bad values name the
    row, the ``what`` parameters allowed and an ``example``."""
    fields = {f.name: f.type for f in dataclasses.fields(params_class)}
    values = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in fields:
            raise LifedlError(
                f"{spec.sheet}: dataset '{spec.id}' has unknown {what} parameter '{key}'; "
                f"allowed: {', '.join(fields)} (e.g. {example})."
            )
        try:
            values[key] = {"int": int, "str": str}.get(getattr(fields[key], "__name__", fields[key]), float)(value)
        except ValueError:
            raise LifedlError(f"{spec.sheet}: dataset '{spec.id}': {what} parameter {key}={value!r} is not a number.")
    try:
        return params_class(**values)
    except ValueError as error:
        raise LifedlError(f"{spec.sheet}: dataset '{spec.id}': {error}") from error


def _inner_source(spec: DatasetSpec, params_class, what: str, example: str):
    """``<what>:key=value,...:<source>``: the parameters as ``params_class`` and the source of cells they apply to."""
    arguments, _, inner = spec.argument.partition(":")
    params = _parse_params(spec, arguments, params_class, what, example)
    if not inner or spec.kind != "cells":
        raise LifedlError(
            f"{spec.sheet}: dataset '{spec.id}' has source '{spec.source}' of kind '{spec.kind}'; a {spec.source_kind}: "
            f"source takes cells (kind 'cells'), whose own source follows the parameters ({example})."
        )
    return params, inner


def _load_doublets(spec: DatasetSpec, cache_dir: Path, limits: DownloadLimits) -> ad.AnnData:
    """``doublets:rate=0.1,types=celltype,seed=0:<source>``: the cells of ``<source>`` (read as its own row would be,
    with the row's checksum and format) with doublets planted (:mod:`lifedl.data.doublets`)."""
    from lifedl.data.doublets import DoubletParams, plant_doublets

    example = "doublets:rate=0.1,types=celltype,seed=0:pypi:..."
    params, inner = _inner_source(spec, DoubletParams, "doublet", example)
    cells = load_source(dataclasses.replace(spec, source=inner, labels=params.types), cache_dir, limits)
    return plant_doublets(cells, params)


@dataclasses.dataclass(frozen=True)
class SampleParams:
    """``sample:cells=3000,seed=0:<source>``: how many of the source's cells to keep, drawn at random (without
    replacement) by ``seed``."""

    cells: int = 0
    seed: int = 0

    def __post_init__(self):
        if self.cells < 1:
            raise ValueError(f"cells={self.cells}: say how many cells to keep (e.g. cells=3000)")


def _load_sample(spec: DatasetSpec, cache_dir: Path, limits: DownloadLimits) -> ad.AnnData:
    """``sample:cells=3000,seed=0:<source>``: a random sample of the cells of ``<source>`` (read as its own row would
    be), in their order in the source, for a method whose memory grows as cells x cells (network fusion)."""
    params, inner = _inner_source(spec, SampleParams, "sample", "sample:cells=3000,seed=0:pypi:...")
    cells = load_source(dataclasses.replace(spec, source=inner), cache_dir, limits)
    if params.cells >= cells.n_obs:
        raise LifedlError(
            f"{spec.sheet}: dataset '{spec.id}': the source holds {cells.n_obs} cells, not more than cells="
            f"{params.cells}; use the source itself, or sample fewer cells."
        )
    rows = np.sort(np.random.default_rng(params.seed).choice(cells.n_obs, params.cells, replace=False))
    return cells[rows].copy()


def _load_url(spec: DatasetSpec, cache_dir: Path, limits: DownloadLimits) -> ad.AnnData:
    path = fetch_url(spec.argument, spec.checksum, cache_dir, f"{spec.sheet}: dataset '{spec.id}'", limits)
    file_format = spec.format or _guess_format(path.name)
    if file_format not in URL_FORMATS:
        raise LifedlError(
            f"{spec.sheet}: dataset '{spec.id}': cannot tell the format of '{path.name}'; set the 'format' "
            f"column to one of {URL_FORMATS}."
        )
    return _cells_from_file(path, file_format, spec, "delete the cached file to download it again")


def _cells_from_file(path: Path, file_format: str, spec: DatasetSpec, refetch: str) -> ad.AnnData:
    """A downloaded file of cells as integer CSR counts in X and layers['counts'] (``refetch``: how to get the file
    again, said where it cannot be read)."""
    try:
        adata = _read_file(path, file_format)
    except (OSError, ValueError, KeyError, tarfile.TarError) as error:
        raise LifedlError(
            f"{spec.sheet}: dataset '{spec.id}': could not read {path} as {file_format} ({error}). "
            f"Check the 'format' column; {refetch}."
        ) from error
    counts = adata.layers.get("counts", adata.X)
    what = f"{spec.sheet}: dataset '{spec.id}': {path}"
    if counts is None:
        raise LifedlError(
            f"{what} holds neither X nor layers['counts']; write the raw counts into one of them (e.g. "
            "adata.layers['counts'] = raw_counts) before use."
        )
    if counts.dtype == bool:  # True/False pass as 1/0 integers, but they are not counts
        raise LifedlError(
            f"{what}: the count matrix holds True/False values (a detection matrix?), not counts; supply raw UMI "
            "counts in X or layers['counts']."
        )
    if spec.kind == "cells+protein" and SCVI_PROTEINS[0] in adata.obsm and PROTEIN_KEY not in adata.obsm:
        names = [str(name) for name in adata.uns[SCVI_PROTEINS[1]]]
        table = pd.DataFrame(np.asarray(adata.obsm.pop(SCVI_PROTEINS[0])), index=adata.obs_names, columns=names)
        adata.obsm[PROTEIN_KEY] = table  # lifedl's layout: a cells x proteins table named by its columns
    return _as_counts_anndata(adata, counts)


def _batches_together(batches: list[tuple[str, ad.AnnData]], spec: DatasetSpec, what: str) -> ad.AnnData:
    """Files that are batches of one data set (the source's ``=LABEL`` of each member) as one AnnData: the genes
    and, for CITE-seq, the proteins every batch measured (those on one panel only are left out and named), the
    batch in ``obs[spec.batch]``, each cell's name suffixed by its batch."""
    labels = [label for label, _ in batches]
    if not spec.batch or "" in labels or len(set(labels)) < len(labels):
        raise LifedlError(
            f"{what}: the source names {len(batches)} h5ad files, one batch each: write each as path=BATCH (distinct "
            f"names; got {labels}) and name the obs column that holds them in the 'batch' column (e.g. batch)."
        )
    from lifedl.pp.protein import protein_table

    proteins = {}
    if spec.kind == "cells+protein":
        tables = {label: protein_table(adata, f"{what} ({label})") for label, adata in batches}
        shared = [name for name in tables[labels[0]].columns if all(name in t.columns for t in tables.values())]
        left_out = sorted({name for t in tables.values() for name in t.columns} - set(shared))
        if left_out:
            print(
                f"lifedl note: {what}: the batches' antibody panels differ; {len(shared)} proteins are in every "
                f"batch and kept, {len(left_out)} measured in some batches only are left out (e.g. {left_out[:4]})",
                file=sys.stderr,
                flush=True,
            )
        for label, adata in batches:
            proteins[label] = tables[label][shared]
            del adata.obsm[PROTEIN_KEY]
    together = ad.concat(dict(batches), join="inner", label=spec.batch, index_unique="-")
    if proteins:
        table = pd.concat([proteins[label] for label in labels])
        table.index = together.obs_names
        together.obsm[PROTEIN_KEY] = table
    print(
        f"{what}: {together.n_obs} cells in {len(labels)} batches, {together.n_vars} genes measured in all", flush=True
    )
    return _as_counts_anndata(together, together.layers["counts"])


def _load_pypi(spec: DatasetSpec, cache_dir: Path) -> ad.AnnData:
    what = f"{spec.sheet}: dataset '{spec.id}'"
    requirement, _, members = spec.argument.partition("#")
    entries = [entry.strip() for entry in members.split(";") if entry.strip()]
    if not entries:
        raise LifedlError(
            f"{what}: source '{spec.source}' names no file of the wheel; write pypi:NAME==VERSION#path/in/wheel=LABEL "
            "(several separated by ';', a split after the label: =LABEL/test)."
        )
    wanted = PYPI_FORMATS_OF_KIND.get(spec.kind, ())
    if spec.format not in wanted:
        raise LifedlError(
            f"{what}: a pypi: source of kind '{spec.kind}' needs 'format' {' or '.join(map(repr, wanted))}, not "
            f"{spec.format!r} (formats: {PYPI_FORMATS})."
        )
    members = [entry.partition("=") for entry in entries]
    archive = fetch_pypi_archive(requirement, spec.checksum, cache_dir, what, [member for member, _, _ in members])
    if spec.format == "h5ad":
        batches = []
        for member, _, label in members:
            path = extract_archive_member(archive, member, what)
            batches.append((label, _cells_from_file(path, "h5ad", spec, f"delete {path} to take it out again")))
        return batches[0][1] if len(batches) == 1 else _batches_together(batches, spec, what)
    if spec.format == "tif":
        from lifedl.data.images import images_from_tiffs

        if any(not mask for _, _, mask in members):
            raise LifedlError(f"{what}: each image names its instance mask: #path/image.tif=path/mask.tif.")
        texts = read_archive_members(archive, [path for member, _, mask in members for path in (member, mask)], what)
        files = [
            (f"{archive.name}:{member}", texts[2 * i], texts[2 * i + 1]) for i, (member, _, _) in enumerate(members)
        ]
        tiles = images_from_tiffs(files)
        print(f"{what}: {tiles.n_obs} tiles of {tiles.obsm['image'].shape[-1]} pixels", flush=True)
        return tiles
    if spec.format == "csv":
        from lifedl.data.graphs import molecules_from_csv
        from lifedl.data.sequences import sequences_from_labelled_csv

        rows = "molecules" if spec.kind == "graphs" else "labelled sequences"
        if len(entries) != 1:
            raise LifedlError(f"{what}: {rows} come from one CSV file in the wheel; the source names {len(entries)}.")
        member = entries[0].partition("=")[0]
        text = read_archive_members(archive, [member], what)[0].decode("utf-8-sig", errors="replace")
        read = molecules_from_csv if spec.kind == "graphs" else sequences_from_labelled_csv
        return read(text, f"{archive.name}:{member}")
    from lifedl.data.sequences import fasta_text, sequences_from_fasta

    texts = read_archive_members(archive, [member for member, _, _ in members], what)
    files = []
    for (member, _, target), data in zip(members, texts):
        label, _, split = target.partition("/")
        where = f"{archive.name}:{member}"
        files.append((where, fasta_text(data, where), label or Path(member).stem, split or "train"))
    return sequences_from_fasta(files)


def read_archive_members(archive: Path, members: list[str], what: str) -> list[bytes]:
    """The bytes of files inside a wheel (zip) or a source distribution (.tar.gz); a missing one is an error that
    lists its neighbours."""
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as opened:
            return _members(archive, set(opened.namelist()), members, opened.read, what)
    with tarfile.open(archive) as opened:
        return _members(archive, set(opened.getnames()), members, lambda m: opened.extractfile(m).read(), what)


def _members(archive: Path, names: set[str], members: list[str], read, what: str) -> list[bytes]:
    for member in members:
        if member not in names:
            folder = str(Path(member).parent)
            near = sorted(n for n in names if Path(n).name == Path(member).name or n.startswith(folder))
            raise LifedlError(
                f"{what}: {archive.name} has no file '{member}'" + (f"; files nearby: {near[:8]}" if near else "")
                + ". Fix the path after '#' in the 'source'."
            )  # fmt: skip
    return [read(member) for member in members]


def extract_archive_member(archive: Path, member: str, what: str) -> Path:
    """A file of a wheel or source distribution, taken out once beside it (``<archive>.files/<member>``, written
    whole or not at all): an h5ad file is read from disk, not from memory."""
    target = archive.parent / f"{archive.name}.files" / member
    if not target.is_file():
        data = read_archive_members(archive, [member], what)[0]
        with atomic_path(target) as part:
            part.write_bytes(data)
    return target


def pypi_file(source: str, checksum: str, cache_dir: Path, what: str) -> bytes:
    """The one file that ``pypi:NAME==VERSION#path/in/wheel`` names (e.g. JASPAR's database in pyjaspar)."""
    requirement, _, member = source.removeprefix("pypi:").partition("#")
    if not member:
        raise LifedlError(f"{what}: '{source}' names no file of the wheel; write pypi:NAME==VERSION#path/in/wheel.")
    archive = fetch_pypi_archive(requirement, checksum, Path(cache_dir), what, [member])
    return read_archive_members(archive, [member], what)[0]


def fetch_pypi_archive(requirement: str, checksum: str, cache_dir: Path, what: str, members: list[str] = ()) -> Path:
    """The wheel ``NAME==VERSION`` from the package index pip is configured for (``PIP_INDEX_URL``), without its
    dependencies and without installing it, checked against ``checksum`` and cached under ``cache_dir/pypi``; its
    source distribution (.tar.gz) instead where the ``members`` lie in the sdist's folder ``NAME-VERSION/`` (pip
    then prepares its metadata, as it does for any sdist it downloads).

    pip writes into a temporary folder inside the cache; only an archive with the right checksum is moved in."""
    name, pinned, version = requirement.partition("==")
    if not pinned or not name.strip() or not version.strip():
        raise LifedlError(
            f"{what}: '{requirement}' is not a pinned requirement; write pypi:NAME==VERSION#path/in/wheel, so the "
            "checksum stays valid."
        )
    algorithm, digest = parse_checksum(checksum, what).split(":")
    sdist = bool(members) and all(m.startswith(f"{name.strip()}-{version.strip()}/") for m in members)
    suffix, binary = (".tar.gz", "--no-binary=:all:") if sdist else (".whl", "--only-binary=:all:")
    kind = "source distribution" if sdist else "wheel"
    target = cache_dir / "pypi" / f"{name.strip()}-{version.strip()}-{digest[:16]}{suffix}"  # keyed by its checksum
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"fetching {requirement} from the package index (no dependencies, not installed)", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pip-") as folder:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", binary, "--no-input"]
        command += ["--no-build-isolation"] if sdist else []  # its metadata with this environment's setuptools
        command += ["--disable-pip-version-check", "--dest", folder, requirement]
        try:
            result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired as error:
            raise LifedlError(f"{what}: pip download {requirement} took over 15 minutes; check the network.") from error
        archives = sorted(Path(folder).glob(f"*{suffix}"))
        if result.returncode != 0 or len(archives) != 1:
            said = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise LifedlError(
                f"{what}: pip could not fetch the {kind} {requirement} ({' / '.join(said) or 'no ' + kind}). Check the "
                "name and version on the index, the network, or PIP_INDEX_URL for a mirror."
            )
        import pooch

        actual = pooch.file_hash(str(archives[0]), alg=algorithm)
        if actual != digest:
            raise LifedlError(
                f"{what}: {archives[0].name} from the index has {algorithm} {actual}, not {digest} as in the "
                f"'checksum' column; it was discarded. Verify the {kind} (pip download --no-deps) and fix the column."
            )
        os.chmod(archives[0], 0o666 & ~current_umask())
        os.replace(archives[0], target)
    return target


CHECKSUM_LENGTHS = {"sha256": 64, "md5": 32}


def parse_checksum(checksum: str, what: str) -> str:
    """Normalise to pooch's ``alg:hex``; a bare 64-digit hex string is taken as sha256."""
    checksum = checksum.strip().lower()
    algorithm, _, digest = checksum.rpartition(":")
    algorithm = algorithm or "sha256"
    if CHECKSUM_LENGTHS.get(algorithm) != len(digest) or any(c not in "0123456789abcdef" for c in digest):
        raise LifedlError(
            f"{what}: a url: or pypi: source needs the file's checksum in the 'checksum' column as 'sha256:<64 hex>' "
            f"(or 'md5:<32 hex>' where only md5 is published); got '{checksum}'. Compute it with "
            "`sha256sum FILE` on a trusted copy."
        )
    return f"{algorithm}:{digest}"


def fetch_url(url: str, checksum: str, cache_dir: Path, what: str, limits: DownloadLimits = DownloadLimits()) -> Path:
    """Download ``url`` into ``cache_dir/url/<checksum>/`` with pooch, verified against ``checksum``, within
    ``limits`` (:func:`_bounded_downloader`).

    pooch writes to a temporary file and moves it into the cache only when the
    checksum matches, so a failed (or stopped) download leaves no file behind. The cache is
    addressed by content: two URLs ending in the same file name (two data sets'
    ``matrix.tar.gz``) never share a file or its extracted folder.
    """
    import pooch
    import requests

    scheme = urlparse(url).scheme
    if scheme not in URL_SCHEMES:
        raise LifedlError(f"{what}: URL '{url}' has scheme '{scheme}'; use one of {URL_SCHEMES}.")
    known_hash = parse_checksum(checksum, what)
    algorithm, digest = known_hash.split(":")
    cache_dir = cache_dir / "url" / f"{algorithm}-{digest[:16]}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    fname = Path(urlparse(url).path).name or "download"
    if scheme == "file":
        return _copy_local_file(Path(urlparse(url).path), cache_dir / fname, known_hash, what)
    downloader = _bounded_downloader(limits, what)
    try:  # a LifedlError from the downloader (a limit) passes through: it is neither of the errors caught here
        return Path(pooch.retrieve(url, known_hash=known_hash, fname=fname, path=cache_dir, downloader=downloader))
    except ValueError as error:  # pooch's checksum mismatch
        raise LifedlError(
            f"{what}: the file at {url} does not match the checksum in the sheet ({error}). The download "
            "was discarded. A truncated transfer or an HTML error/login page served instead of the data gives "
            "this too; if the provider changed the file, verify it and update the 'checksum' column."
        ) from error
    except (requests.RequestException, OSError) as error:
        raise LifedlError(f"{what}: could not download {url} ({error}). Check the URL and the network.") from error


def _size(n_bytes: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes:,} bytes"


def _bounded_downloader(limits: DownloadLimits, what: str, timeout: float = 60, chunk_size: int = 2**20):
    """A pooch downloader for http(s) that streams with requests (``timeout`` per connect and per read, as pooch's
    HTTPDownloader) and stops once the whole download takes longer than ``limits.max_seconds``, or the file declares
    or sends more than ``limits.max_bytes``. Chunks are taken as they arrive (``read1``), so a server that trickles
    bytes is stopped on time, not at the end of a chunk."""
    import contextlib

    import requests
    import urllib3

    def download(url, output_file, pooch_obj=None):
        started = time.monotonic()

        def stop(cause: str, key: str) -> LifedlError:
            return LifedlError(
                f"{what}: stopped downloading {url}: {cause}. If the file really is that large or the link that slow, "
                f"raise download.{key} in config/config.yaml; otherwise check the URL."
            )

        is_path = isinstance(output_file, (str, os.PathLike))  # pooch passes a path; a file object stays open
        with (
            requests.get(url, stream=True, timeout=timeout) as response,
            open(output_file, "wb") if is_path else contextlib.nullcontext(output_file) as out,
        ):
            response.raise_for_status()
            length = response.headers.get("Content-Length", "")
            declared = int(length) if length.isdigit() else None
            if declared is not None and declared > limits.max_bytes:
                raise stop(
                    f"it declares {_size(declared)}, more than the limit of {_size(limits.max_bytes)}", "max_gib"
                )
            read, of_declared = 0, f" of {declared:,}" if declared is not None else ""
            while True:
                try:
                    chunk = response.raw.read1(chunk_size, decode_content=True)
                except urllib3.exceptions.HTTPError as error:  # as requests' iter_content: a read timeout, a cut body
                    raise requests.RequestException(error) from error
                if not chunk:
                    return
                read += len(chunk)
                if read > limits.max_bytes:
                    raise stop(
                        f"it sent more than the limit of {_size(limits.max_bytes)} ({read:,}{of_declared} bytes read)",
                        "max_gib",
                    )
                if time.monotonic() - started > limits.max_seconds:
                    raise stop(
                        f"it took longer than {limits.max_seconds:g} s in total ({read:,}{of_declared} bytes read)",
                        "max_seconds",
                    )
                out.write(chunk)

    return download


def _copy_local_file(source: Path, target: Path, known_hash: str, what: str) -> Path:
    """file:// sources: verified like downloads, then copied into the cache atomically."""
    import shutil

    import pooch

    from lifedl.io import atomic_path

    if not source.is_file():
        raise LifedlError(f"{what}: {source} does not exist; fix the file:// path in the 'source' column.")
    algorithm, digest = known_hash.split(":")
    actual = pooch.file_hash(str(source), alg=algorithm)
    if actual != digest:
        raise LifedlError(
            f"{what}: {source} has {algorithm} {actual}, not {digest} as in the 'checksum' column. Verify the file "
            "and fix the column."
        )
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return target


def _guess_format(name: str) -> str:
    if name.endswith(".h5ad"):
        return "h5ad"
    if name.endswith(".h5"):
        return "10x_h5"
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return "10x_mtx_tar"
    return ""


def extract_once(archive: Path) -> Path:
    """The archive's contents in ``<archive>.extracted/`` beside it (its own checksum's folder), extracted once and
    moved into place whole, so an interrupted extraction is never read as a finished one."""
    import shutil

    extract_dir = archive.with_name(archive.name + ".extracted")
    if extract_dir.is_dir():
        return extract_dir
    partial = Path(tempfile.mkdtemp(prefix=".extracting-", dir=archive.parent))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(partial, filter="data")
        os.replace(partial, extract_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return extract_dir


GENE_EXPRESSION, ANTIBODY_CAPTURE = "Gene Expression", "Antibody Capture"


def read_10x_h5_modalities(path: Path) -> ad.AnnData:
    """A Cell Ranger ``.h5``: 'Gene Expression' features as the cells' genes, 'Antibody Capture' features (CITE-seq)
    as their protein counts (``obsm['protein_counts']``); says what it read and what it left out."""
    import scanpy as sc

    from lifedl.pp.protein import PROTEIN_KEY

    adata = sc.read_10x_h5(path, gex_only=False)
    if "feature_types" not in adata.var:  # Cell Ranger 2 files hold genes only
        return adata
    types = adata.var["feature_types"].astype(str).to_numpy()
    genes, antibodies = types == GENE_EXPRESSION, types == ANTIBODY_CAPTURE
    left_out = sorted(set(types) - {GENE_EXPRESSION, ANTIBODY_CAPTURE})
    if not genes.any():
        raise ValueError(
            f"no '{GENE_EXPRESSION}' features (feature types: {sorted(set(types))}); lifedl needs the cells' RNA"
        )
    rna = adata[:, genes].copy()
    if antibodies.any():
        proteins = adata[:, antibodies]
        rna.obsm[PROTEIN_KEY] = pd.DataFrame(
            sp.csr_matrix(proteins.X).toarray().astype(np.int32),
            index=rna.obs_names,
            columns=[str(name) for name in proteins.var_names],
        )
    dropped = f"; left out {int((~genes & ~antibodies).sum())} features of type {left_out}" if left_out else ""
    print(
        f"{path.name}: read {int(genes.sum())} '{GENE_EXPRESSION}' features and {int(antibodies.sum())} "
        f"'{ANTIBODY_CAPTURE}' features (obsm['{PROTEIN_KEY}']){dropped}",
        flush=True,
    )
    return rna


def _read_file(path: Path, file_format: str) -> ad.AnnData:
    import scanpy as sc

    if file_format == "h5ad":
        return read_h5ad_sparse(path)
    if file_format == "10x_h5":
        adata = read_10x_h5_modalities(path)
    else:
        extract_dir = extract_once(path)
        matrix_dirs = sorted({p.parent for p in extract_dir.rglob("matrix.mtx*")})
        if not matrix_dirs:
            raise ValueError("no matrix.mtx(.gz) inside the archive")
        adata = sc.read_10x_mtx(matrix_dirs[0], var_names="gene_symbols")
    _name_genes_without_symbol(adata, path)
    adata.var_names_make_unique()  # 10x symbols repeat (e.g. TBCE); scanpy's usual fix
    return adata


def read_h5ad_sparse(path: Path) -> ad.AnnData:
    """An h5ad file with a dense X (counts stored as a float array, as some packages ship them) read into CSR a
    block of rows at a time, so no dense copy of the whole matrix is ever held; any other file is read as it is
    (a sparse X, layers, no X at all)."""
    import h5py

    with h5py.File(path, "r") as file:  # a dense X is an HDF5 dataset, a sparse one a group
        dense_x = isinstance(file.get("X"), h5py.Dataset) and not len(file.get("layers", {}))
    if not dense_x:
        return ad.read_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    try:
        blocks = [
            sp.csr_matrix(np.asarray(backed.X[start : start + DENSE_ROWS_PER_BLOCK]))
            for start in range(0, backed.n_obs, DENSE_ROWS_PER_BLOCK)
        ]
        return ad.AnnData(
            X=sp.vstack(blocks, format="csr"),
            obs=backed.obs.copy(),
            var=backed.var.copy(),
            uns=dict(backed.uns),
            obsm={key: np.asarray(value) for key, value in backed.obsm.items()},
        )
    finally:
        backed.file.close()


def _name_genes_without_symbol(adata: ad.AnnData, path: Path) -> None:
    """A 10x gene whose symbol reads as missing (pandas turns a gene named 'nan' or an empty symbol into NaN)
    is named by its gene id instead, with a warning: a NaN name breaks every later step."""
    names = pd.Series(adata.var_names, dtype=object)
    missing = names.isna() | names.astype(str).isin(["", "nan", "NaN"])
    if not missing.any():
        return
    if "gene_ids" not in adata.var:
        raise ValueError(f"{int(missing.sum())} genes have no name and the file gives no gene ids")
    names[missing.to_numpy()] = adata.var["gene_ids"].astype(str).to_numpy()[missing.to_numpy()]
    adata.var_names = pd.Index(names.astype(str))
    print(
        f"lifedl warning: {path.name}: {int(missing.sum())} genes have a symbol read as missing (a gene named 'nan' "
        f"or an empty name); named by their gene ids instead (e.g. {list(names[missing.to_numpy()][:3])})",
        file=sys.stderr,
        flush=True,
    )
