"""Loading and validating config/config.yaml and config/datasets.tsv against their JSON schemas.

Both schemas forbid unknown keys, so a typo fails at once with a message that names
the file and the key instead of being silently ignored.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from pathlib import Path

import yaml

from lifedl.errors import LifedlError


def export_pythonpath(source_dir: str) -> None:
    """Put the checkout's ``src/`` first on PYTHONPATH, which every job inherits: jobs then import this
    lifedl also inside per-stage conda environments and on cluster nodes, where it is not installed."""
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [source_dir, os.environ.get("PYTHONPATH")]))


PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def _validate(data, schema_path: Path, what: str, fix: str):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(data, str(schema_path), set_default=True)
    except WorkflowError as error:
        detail = str(error).strip().splitlines()
        raise LifedlError(f"{what} is invalid: {' '.join(line.strip() for line in detail[:6])}. {fix}") from None


def validate_config(config: dict, schema_path: str | Path, source: str = "config/config.yaml") -> dict:
    from lifedl.models import ARCHITECTURES, default_architectures

    # 'architectures' left out: the registry's default run; "all": every entry (then checked as any list is)
    if config.get("architectures", "all") == "all":
        config["architectures"] = list(ARCHITECTURES) if "architectures" in config else default_architectures()
    _validate(
        config,
        Path(schema_path),
        f"{source} (with any --config/--configfile overrides)",
        f"Compare it with the keys and types in {Path(schema_path).name}.",
    )
    uri = (config.get("mlflow") or {}).get("tracking_uri")
    if uri:
        from lifedl.train.tracking import check_tracking_uri

        check_tracking_uri(uri, f"{source}: mlflow.tracking_uri")
    clustering = config.get("clustering", {})
    if "default_resolution" in clustering and clustering["default_resolution"] not in clustering["resolutions"]:
        raise LifedlError(
            f"{source}: clustering.default_resolution {clustering['default_resolution']} is not one of "
            f"clustering.resolutions {clustering['resolutions']}; add it there or choose one of them."
        )
    return config


def load_datasets_sheet(path: str | Path, schema_path: str | Path) -> dict[str, dict[str, str]]:
    """The datasets sheet as {id: row}, each row holding every column of the schema ("" where left out).

    Read with the standard library: the workflow parses with Snakemake alone (no pandas, no lifedl
    installed), as ``snakemake --sdm conda`` on a cluster needs. Lines starting with ``#`` are comments.
    """
    path = Path(path)
    if not path.is_file():
        raise LifedlError(f"datasets sheet {path} does not exist; set 'datasets_sheet' in config/config.yaml.")
    with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: a sheet saved with a BOM (Excel) reads too
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t", restval="")
    rows = list(reader)
    if not rows:
        raise LifedlError(f"{path}: the datasets sheet has no rows; add one (see README, 'Adding a dataset').")
    columns = list(read_yaml(schema_path)["properties"])
    ids = [row.get("id", "") for row in rows]
    duplicated = sorted({id_ for id_ in ids if ids.count(id_) > 1})
    if duplicated:
        raise LifedlError(f"{path}: dataset id(s) {duplicated} appear more than once; ids must be unique.")
    sheet: dict[str, dict[str, str]] = {}
    for row in rows:
        if None in row:  # DictReader puts the fields beyond the header under None
            raise LifedlError(
                f"{path}: the row of '{row.get('id', '')}' has more tab-separated fields than the header "
                f"({len(reader.fieldnames)}); remove the extra tabs or name the column."
            )
        fix = "Each row needs id and source; see docs/datasets.md."
        _validate(row, Path(schema_path), f"{path} (row '{row.get('id', '')}')", fix)
        sheet[row["id"]] = {column: row.get(column, "") for column in columns}  # short rows: restval ""
    return sheet


def selected_datasets(config: dict, sheet: dict[str, dict[str, str]], sheet_path: str) -> list[str]:
    """The ids from config 'datasets', or, when that is empty, the sheet rows with default_run=yes."""
    chosen = list(config.get("datasets") or [id_ for id_, row in sheet.items() if row["default_run"] == "yes"])
    unknown = [d for d in chosen if d not in sheet]
    if unknown:
        raise LifedlError(
            f"config 'datasets' names {unknown}, not in {sheet_path} (known: {sorted(sheet)}). "
            "Add a row to the sheet or fix the id."
        )
    if not chosen:
        raise LifedlError(
            f"no dataset to run: config 'datasets' is empty and no row of {sheet_path} has default_run=yes."
        )
    return chosen


def dataset_qc(config: dict, dataset: str) -> dict:
    """The QC thresholds of one data set: config 'qc', updated by its entry under 'qc_per_dataset'."""
    override = config.get("qc_per_dataset", {}).get(dataset, {})
    unknown = sorted(set(override) - set(config["qc"]))
    if unknown:
        raise LifedlError(
            f"config 'qc_per_dataset.{dataset}' has unknown key(s) {unknown}; use the keys of 'qc': {sorted(config['qc'])}."
        )
    return {**config["qc"], **override}


def dataset_params(config: dict, dataset: str, arch: str) -> dict:
    """One architecture's hyper-parameter overrides on one data set: config 'params.<arch>', updated by
    'params_per_dataset.<dataset>.<arch>' (e.g. peptides' 20-letter alphabet wants other k-mers than DNA)."""
    return {**config["params"].get(arch, {}), **config.get("params_per_dataset", {}).get(dataset, {}).get(arch, {})}


# Config keys that name data sets of the sheet: (section, key, when the section is in use).
DATASET_KEYS = (
    ("qc_per_dataset", None, lambda section: True),
    ("params_per_dataset", None, lambda section: True),
    ("replicates", "datasets", lambda section: bool(section.get("seeds"))),
    ("replicates", "skip", lambda section: bool(section.get("seeds"))),
    ("realism_budget", "datasets", lambda section: bool(section.get("enabled"))),
    ("leave_one_type_out", "seeds_per_dataset", lambda section: bool(section.get("enabled"))),
    ("likelihood_comparison", "datasets", lambda section: bool(section.get("enabled"))),
    ("augmentation", "rare_types", lambda section: bool(section.get("enabled"))),
)


def check_dataset_keys(config: dict, sheet: dict[str, dict[str, str]], sheet_path: str, schema_path: str) -> None:
    """Every config key in use that names data sets names rows of the sheet (a typo would schedule nothing,
    silently), and every 'qc_per_dataset' entry holds only keys and values that 'qc' accepts. A mapping by id
    (rare_types) also holds the defaults' entries when a config file adds one: those are noted, not refused."""
    for section_name, key, in_use in DATASET_KEYS:
        section = config.get(section_name, {})
        if not in_use(section):
            continue
        named = section if key is None else section.get(key) or []
        unknown = [dataset for dataset in named if dataset not in sheet]
        where = section_name if key is None else f"{section_name}.{key}"
        message = f"config '{where}' names {unknown}, not in {sheet_path} (known: {sorted(sheet)})"
        if unknown and isinstance(named, dict) and key is not None and len(unknown) < len(named):
            print(f"note: {message}: not run for those.", file=sys.stderr)
        elif unknown:
            raise LifedlError(f"{message}; fix the id(s).")
    qc_schema = read_yaml(schema_path)["properties"]["qc"]
    for dataset, override in config.get("qc_per_dataset", {}).items():
        dataset_qc(config, dataset)
        for name, value in override.items():
            _check_value(value, qc_schema["properties"][name], f"config 'qc_per_dataset.{dataset}.{name}'", name)


def _check_value(value, schema: dict, where: str, name: str) -> None:
    """``value`` against one property's JSON schema, without filling defaults (an override holds what it sets)."""
    import jsonschema

    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as error:
        raise LifedlError(
            f"{where} is {value!r}: {error.message}. Use a value that 'qc.{name}' accepts "
            f"({', '.join(f'{k} {v}' for k, v in schema.items() if k != 'default')})."
        ) from None


def dataset_architectures(config_architectures: list[str], row: dict[str, str], sheet_path: str) -> list[str]:
    """The architectures run on one data set, each family's baseline first (PCA for cells, k-mers for sequences).

    Config 'architectures' is the master list. A data set runs those of them that read its data kind
    (column 'kind', empty = cells) and that its sheet row can feed (every role in the architecture's
    ``needs`` filled, e.g. scgen needs a condition) and, when its 'architectures' column is filled, only
    those named there. Each chosen architecture brings its baseline and the architectures whose trained models
    it uses (``uses_models``, trained first); on a data set with batches a batch-aware one also brings the
    batch-correcting baselines (``BATCH_BASELINES``: PCA + ComBat, PCA + Harmony).
    """
    from lifedl.models import ARCHITECTURES, BATCH_BASELINES, get_architecture

    kind = row.get("kind", "") or "cells"
    listed = [name.strip() for name in row.get("architectures", "").split(",") if name.strip()]
    for name in listed:
        architecture = get_architecture(name)  # an unknown name is an error, with the known ones
        if not architecture.reads(kind):
            raise LifedlError(
                f"{sheet_path}: dataset '{row['id']}' (kind '{kind}') lists architecture '{name}', which reads "
                f"'{architecture.data_kind}' data; remove it from the row's 'architectures'."
            )
        missing = architecture.missing_needs(row)
        if missing:
            raise LifedlError(
                f"{sheet_path}: dataset '{row['id']}' lists architecture '{name}', which needs the column(s) "
                f"{missing} filled (planted_doublets: a doublets: source); fill them or remove '{name}' from its "
                "'architectures'."
            )
    chosen = [
        name
        for name in config_architectures
        if get_architecture(name).reads(kind)
        and (not listed or name in listed)
        and not get_architecture(name).missing_needs(row)
    ]
    baselines = [get_architecture(name).baseline for name in chosen if get_architecture(name).baseline]
    if row.get("batch", "") and any(get_architecture(name).batch_aware for name in chosen):
        baselines += [name for name in BATCH_BASELINES if get_architecture(name).reads(kind)]
    if not chosen:
        raise LifedlError(
            f"dataset '{row['id']}' (kind '{kind}', {sheet_path}) would run no model: none of config 'architectures' "
            f"{config_architectures} reads {kind} data"
            + (f" and is listed in its row ({listed})" if listed else "")
            + ". Add one that does to config 'architectures' (e.g. "
            + f"{[n for n, a in ARCHITECTURES.items() if a.reads(kind)][:4]}), or leave the data set out."
        )
    dropped = [name for name in listed if name not in config_architectures]
    if dropped:  # said once per parse: the row asks for them, the run's master list leaves them out
        print(
            f"note: dataset '{row['id']}' lists {dropped} in {sheet_path}, which config 'architectures' does not "
            "include: not run (add them to config 'architectures' to run them).",
            file=sys.stderr,
        )
    used = [used for name in chosen for used in get_architecture(name).uses_models]
    return list(dict.fromkeys([*baselines, *used, *chosen]))


def config_sha256(config: dict) -> str:
    """A digest of the effective configuration (after defaults and overrides), for provenance."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def read_yaml(path: str | Path) -> dict:
    """A YAML file's top-level mapping; a file YAML cannot parse is named with the line of the problem
    (Snakemake's own message says only "Config file is not valid JSON or YAML")."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise LifedlError(
            f"{path} is not valid YAML{where}: {getattr(error, 'problem', None) or error}. Fix that line (indent "
            "with spaces, not tabs; close every bracket and quote), then rerun."
        ) from None
    if data is not None and not isinstance(data, dict):
        raise LifedlError(f"{path} must hold 'key: value' settings at its top level, not a {type(data).__name__}.")
    return data or {}
