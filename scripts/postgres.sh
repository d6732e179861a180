#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for tests, benchmarks and trying shared studies locally.
#
#   scripts/postgres.sh install   apt-get install postgresql when its server binaries are missing (root)
#   scripts/postgres.sh start     start it (if not running) and print its URL as the last line:
#                                 postgresql://crescendo@127.0.0.1:PORT/crescendo
#   scripts/postgres.sh url       print the URL of the running server
#   scripts/postgres.sh stop      stop it and delete its data directory
#
# Data directory: $CRESCENDO_PG_DIR (default /tmp/crescendo-postgres); port: $CRESCENDO_PG_PORT or a
# free one. Trust authentication on loopback only, fsync off: for tests, never for real studies.
# As root the server runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

DIR="${CRESCENDO_PG_DIR:-/tmp/crescendo-postgres}"
DATA="$DIR/data"
DB=crescendo
USER_NAME=crescendo

find_bin() {
    local candidate
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$candidate/pg_ctl" ] && [ -x "$candidate/initdb" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

as_owner() {  # run a command as the user that owns the server
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

url() {
    echo "postgresql://$USER_NAME@127.0.0.1:$(cat "$DIR/port")/$DB"
}

running() {
    [ -f "$DIR/port" ] && [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

install() {
    if find_bin >/dev/null; then
        echo "postgres: server binaries found in $(find_bin)"
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "postgres: the server is not installed; as root run: apt-get install -y postgresql" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    find_bin >/dev/null
}

start() {
    BIN="$(find_bin)" || { echo "postgres: server binaries not found — run: scripts/postgres.sh install (as root)" >&2; exit 1; }
    if running; then
        url
        return 0
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir "$DIR" --shell /bin/false postgres
    fi
    rm -rf "$DIR"
    mkdir -p "$DATA"
    chmod 700 "$DATA"
    [ "$(id -u)" = 0 ] && chown -R postgres "$DIR"
    as_owner "$BIN/initdb" -D "$DATA" -A trust -U postgres --no-sync >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    local port="${CRESCENDO_PG_PORT:-$(free_port)}"
    echo "$port" >"$DIR/port"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $DIR -F -c max_connections=200 -c synchronous_commit=off" start >/dev/null \
        || { cat "$DIR/server.log" >&2; exit 1; }
    as_owner "$BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtA \
        -c "CREATE ROLE $USER_NAME LOGIN SUPERUSER" -c "CREATE DATABASE $DB OWNER $USER_NAME" >/dev/null
    url
}

stop() {
    BIN="$(find_bin)" || exit 0
    if [ -f "$DATA/postmaster.pid" ]; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    url) BIN="$(find_bin)"; running && url ;;
    stop) stop ;;
    *) echo "usage: $0 install|start|url|stop" >&2; exit 2 ;;
esac
