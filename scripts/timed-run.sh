#!/usr/bin/env bash
# `make run` / `make reproduce`: run Snakemake and, when it ran jobs, record the wall time in $RUN_RECORD
# (default results/make_run.tsv, read by `make docs`: the README's run-time claim comes from there; `make reproduce`
# records in results/make_reproduce.tsv, so it never overwrites the default run's time).
# Usage: [RUN_RECORD=results/x.tsv] scripts/timed-run.sh SNAKEMAKE CORES [snakemake arguments...]
set -euo pipefail
snakemake=$1 cores=$2
shift 2
mkdir -p results
stamp=$(mktemp results/.run-start.XXXXXX)
trap 'rm -f "$stamp"' EXIT
start=$(date +%s)
"$snakemake" --cores "$cores" "$@"
wall=$(( $(date +%s) - start ))
jobs=$(find results -path '*/benchmarks/*.tsv' -newer "$stamp" | wc -l)
if [ "$jobs" -gt 0 ]; then
  record=${RUN_RECORD:-results/make_run.tsv}
  tmp=$(mktemp results/.run_record.XXXXXX)
  printf 'wall_seconds\twall_minutes\tjobs\tcores\targuments\tfinished_utc\n%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$wall" "$(printf '%d min %02d s' $((wall / 60)) $((wall % 60)))" "$jobs" "$cores" "${*:-(none)}" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$tmp"
  chmod "$(printf '%o' $(( 0666 & ~$(umask) )))" "$tmp"
  mv "$tmp" "$record"
  echo "$jobs jobs in $wall s wall on $cores cores ($record)"
fi
