#!/usr/bin/env bash
# A PostgreSQL server on 127.0.0.1, for testing MLflow's tracking server on the backend store clusters use.
#
#   scripts/local-postgres.sh start   install postgresql if missing (apt, as root), create a cluster in
#                                     $LIFEDL_POSTGRES_DIR, start it on 127.0.0.1:$LIFEDL_POSTGRES_PORT, create the
#                                     database 'mlflow'; prints the SQLAlchemy URI MLflow's server takes
#   scripts/local-postgres.sh stop    stop the server this script started
#   scripts/local-postgres.sh uri     print that URI
#
# Defaults: /tmp/lifedl-postgres, port 55432. Connections from 127.0.0.1 are trusted (no password): a test
# server that listens nowhere else. On a cluster, give the database user a password (docs/cluster.md).
# PostgreSQL refuses to run as root: as root, the cluster belongs to the 'postgres' user the package creates.
set -euo pipefail

DIR="${LIFEDL_POSTGRES_DIR:-/tmp/lifedl-postgres}"
PORT="${LIFEDL_POSTGRES_PORT:-55432}"
DATA="$DIR/data"
URI="postgresql+psycopg2://postgres@127.0.0.1:$PORT/mlflow"

say() { echo "local-postgres: $*" >&2; }

bin_dir() {
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
    [ -n "$found" ] && echo "$found"
}

install_if_missing() {
    if [ -n "$(bin_dir)" ]; then
        return
    fi
    if [ "$(id -u)" != 0 ]; then
        say "postgresql is not installed and installing it needs root (apt-get install -y postgresql)"
        exit 2
    fi
    say "installing postgresql with apt"
    timeout -s KILL 300 apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive timeout -s KILL 600 apt-get install -y -qq postgresql >/dev/null
}

# run a PostgreSQL program as the cluster's owner
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    install_if_missing
    local bin
    bin="$(bin_dir)"
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
    if [ ! -f "$DATA/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 >"$DIR/initdb.log"
    fi
    if ! as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        # 127.0.0.1 only, the socket in $DIR (not /var/run/postgresql, which another server may own)
        as_owner "$bin/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 start \
            -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c max_connections=200"
    fi
    if ! as_owner "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'mlflow'" | grep -q 1; then
        as_owner "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U postgres mlflow
    fi
    say "running on 127.0.0.1:$PORT (data $DATA, log $DIR/server.log)"
    echo "$URI"
}

stop() {
    local bin
    bin="$(bin_dir)" || exit 0
    if [ -f "$DATA/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        say "stopped"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    uri) echo "$URI" ;;
    *)
        echo "usage: $0 start|stop|uri" >&2
        exit 64
        ;;
esac
