"""Where `make bench` ran: date, processor, cores, memory, GPU and the versions that set the speed.

Writes results/benchmarks/environment.tsv (one row per item: item, value), which docs/performance.md
shows beside the tables.

    python benchmarks/environment.py
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd
from common import output_dir

PACKAGES = ("torch", "lightning", "scanpy", "anndata", "scikit-learn", "pynndescent", "igraph", "umap-learn")
PEERS = ("scvi-tools", "muon")


def _proc_field(path: str, key: str) -> str | None:
    """The value of the first ``key: value`` line of a /proc file (None off Linux or where it is missing)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(key)), None)


def _processor() -> str:
    return _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown"


def _memory_gib() -> str:
    total = _proc_field("/proc/meminfo", "MemTotal")  # "24576000 kB"
    return f"{int(total.split()[0]) / 2**20:.0f}" if total else "unknown"


def environment() -> list[dict]:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU only)"
    rows = [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d")),
        ("processor", _processor()),
        ("cores", str(os.cpu_count())),
        ("memory (GiB)", _memory_gib()),
        ("GPU", gpu),
        ("Python", platform.python_version()),
        ("lifedl", metadata.version("lifedl")),
    ]
    for name in PACKAGES + PEERS:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return [{"item": item, "value": value} for item, value in rows]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", help="default results/benchmarks")
    args = parser.parse_args(argv)
    from lifedl.io import write_tsv

    path = output_dir(args.out_dir, quick=False) / "environment.tsv"
    write_tsv(pd.DataFrame(environment()), path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
