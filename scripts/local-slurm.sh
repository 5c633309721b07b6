#!/usr/bin/env bash
# A one-node SLURM on this machine, for testing `snakemake --profile slurm` for real.
#
#   scripts/local-slurm.sh start    install slurm-wlm + munge if missing (apt, as root), write slurm.conf,
#                                   start munged, slurmctld, slurmd, wait until the node is idle
#   scripts/local-slurm.sh stop     stop the daemons this script started (by their pid files)
#   scripts/local-slurm.sh env      print `export SLURM_CONF=...` for sbatch/squeue/snakemake
#
# State, logs and pid files live in $LIFEDL_SLURM_DIR (default /tmp/lifedl-slurm).
# No accounting daemon: the slurm profile asks the executor plugin to poll squeue, and
# MinJobAge keeps finished jobs visible to squeue long enough (shared/notes/slurm.md).
set -euo pipefail

DIR="${LIFEDL_SLURM_DIR:-/tmp/lifedl-slurm}"
CONF="$DIR/slurm.conf"
HOST="$(hostname -s)"
MUNGED_PID=/run/munge/lifedl-munged.pid  # exists only while a munged started by this script runs

say() { echo "local-slurm: $*" >&2; }

install_if_missing() {
    if command -v slurmctld >/dev/null && command -v munged >/dev/null; then
        return
    fi
    if [ "$(id -u)" != 0 ]; then
        say "slurm-wlm and munge are not installed and installing them needs root (apt-get install -y slurm-wlm munge)"
        exit 2
    fi
    say "installing slurm-wlm and munge with apt"
    timeout -s KILL 300 apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive timeout -s KILL 600 apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_conf() {
    local cpus mem_mb
    cpus="$(nproc)"
    mem_mb="$(awk '/MemAvailable/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)"
    mkdir -p "$DIR/spool" "$DIR/state" "$DIR/log"
    cat > "$CONF" <<CONF
# written by scripts/local-slurm.sh for $HOST
ClusterName=lifedl-local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
DefMemPerCPU=1000
MailProg=/bin/true
ReturnToService=2
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmdSpoolDir=$DIR/spool
StateSaveLocation=$DIR/state
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
NodeName=$HOST CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

SYSTEM_CONF=/etc/slurm/slurm.conf

link_system_conf() {
    # Job steps (srun inside a job) read the default path, not $SLURM_CONF: link it, unless it belongs to
    # a real installation (a file, or a link elsewhere), which we leave alone.
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    if [ -L "$SYSTEM_CONF" ] || [ ! -e "$SYSTEM_CONF" ]; then
        ln -sfn "$CONF" "$SYSTEM_CONF"
    elif ! cmp -s "$SYSTEM_CONF" "$CONF"; then
        say "$SYSTEM_CONF exists and is not ours; job steps will use it"
    fi
}

start() {
    install_if_missing
    write_conf
    link_system_conf
    export SLURM_CONF="$CONF"
    # munged: start our own unless one already answers (then it is not ours to stop).
    if ! (munge -n | unmunge) >/dev/null 2>&1; then
        mkdir -p /run/munge /var/log/munge /var/lib/munge
        chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
        [ -f /etc/munge/munge.key ] || runuser -u munge -- mungekey --create >/dev/null 2>&1 || true
        # munged runs as user munge, so its pid file lives in a directory that user owns.
        runuser -u munge -- munged --pid-file="$MUNGED_PID"
        for _ in $(seq 50); do (munge -n | unmunge) >/dev/null 2>&1 && break; sleep 0.1; done
        (munge -n | unmunge) >/dev/null || { say "munge does not work"; exit 1; }
    fi
    running "$DIR/slurmctld.pid" || slurmctld -f "$CONF"
    running "$DIR/slurmd.pid" || slurmd -f "$CONF"
    for _ in $(seq 150); do
        state="$(timeout -s KILL 5 sinfo -h -n "$HOST" -o %T 2>/dev/null || true)"
        if [ "$state" = "idle" ] || [ "$state" = "mixed" ]; then
            say "node $HOST is $state (SLURM_CONF=$CONF)"
            return
        fi
        sleep 0.2
    done
    say "node $HOST did not become idle; see $DIR/log/"
    exit 1
}

stop() {
    for pid_file in "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$MUNGED_PID"; do
        daemon="$(basename "$pid_file" .pid)"
        if running "$pid_file"; then
            pid="$(cat "$pid_file")"
            kill -TERM "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
            say "stopped $daemon ($pid)"
        fi
        rm -f "$pid_file"
    done
    if [ "$(readlink "$SYSTEM_CONF" 2>/dev/null)" = "$CONF" ]; then
        rm -f "$SYSTEM_CONF"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
