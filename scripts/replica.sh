#!/usr/bin/env bash
# A PostgreSQL primary with a hot standby, for the read-replica tests and benchmarks: two throwaway
# clusters under target/replica, the standby made with `pg_basebackup -R` (streaming replication,
# hot_standby on). Nothing of the machine's own cluster is touched.
#
#   scripts/replica.sh start    creates (first time) and starts both; prints the two URLs
#   scripts/replica.sh stop     stops both
#   scripts/replica.sh env      prints `export TEST_REPLICA_PRIMARY_URL=… TEST_STANDBY_URL=…`
#
# The tests read TEST_REPLICA_PRIMARY_URL and TEST_STANDBY_URL (scripts/test.sh exports them after
# starting the pair); a test that needs the standby and finds none fails.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
as_pg_owner() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local port=$1
    while port_taken "$port"; do port=$((port + 1)); done
    echo "$port"
}
pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

ROOT="$PWD/target/replica"
BIN=$(pg_bindir)
[ -n "$BIN" ] || {
    say "no PostgreSQL server installed (Debian package postgresql): the replica needs initdb and pg_basebackup"
    exit 1
}

running() { [ -f "$1/postmaster.pid" ] && as_pg_owner "$BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

start_cluster() { # data dir, port
    running "$1" && return 0
    # Throwaway: no fsync. hot_standby_feedback keeps the primary's vacuum from cancelling
    # queries on the standby.
    as_pg_owner "$BIN/pg_ctl" -D "$1" -l "$1.log" -w -o "-p $2 -k $ROOT -c listen_addresses=127.0.0.1 \
        -c max_connections=200 -c fsync=off -c full_page_writes=off -c hot_standby_feedback=on" start >/dev/null
}

url() { echo "postgres://postgres@127.0.0.1:$1"; }

start() {
    mkdir -p "$ROOT"
    if is_root; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
        chown postgres "$ROOT"
    fi
    local pport sport
    if [ -f "$ROOT/ports" ]; then
        read -r pport sport <"$ROOT/ports"
    fi
    if [ ! -f "$ROOT/primary/PG_VERSION" ]; then
        say "creating the replica pair's primary in target/replica/primary"
        rm -rf "$ROOT/primary" "$ROOT/standby"
        # initdb's trust setting also trusts replication connections from this machine.
        as_pg_owner "$BIN/initdb" -D "$ROOT/primary" -U postgres --auth=trust -E UTF8 --locale=C >"$ROOT/initdb.log" 2>&1 || {
            cat "$ROOT/initdb.log" >&2
            exit 1
        }
        pport=""
    fi
    if ! running "$ROOT/primary"; then
        pport=$(free_port 56432)
        start_cluster "$ROOT/primary" "$pport"
    fi
    if [ ! -f "$ROOT/standby/PG_VERSION" ]; then
        say "taking the standby's base backup (pg_basebackup -R)"
        as_pg_owner "$BIN/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$ROOT/standby" -R -X stream -c fast
        sport=""
    fi
    if ! running "$ROOT/standby"; then
        sport=$(free_port $((pport + 1)))
        # The primary's port may have changed since the base backup: point the standby at it.
        as_pg_owner sed -i "s/port=[0-9]*/port=$pport/" "$ROOT/standby/postgresql.auto.conf"
        start_cluster "$ROOT/standby" "$sport"
    fi
    echo "$pport $sport" >"$ROOT/ports"
    for _ in $(seq 1 60); do
        if [ "$(psql -w -h 127.0.0.1 -p "$sport" -U postgres -d postgres -Atqc 'select pg_is_in_recovery()' 2>/dev/null)" = t ]; then
            say "primary $(url "$pport"), hot standby $(url "$sport")"
            return 0
        fi
        sleep 0.5
    done
    say "the standby did not come up; see target/replica/standby.log"
    exit 1
}

stop() {
    for d in standby primary; do
        if running "$ROOT/$d"; then
            as_pg_owner "$BIN/pg_ctl" -D "$ROOT/$d" -m fast -w stop >/dev/null
        fi
    done
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
env)
    read -r pport sport <"$ROOT/ports"
    echo "export TEST_REPLICA_PRIMARY_URL=$(url "$pport") TEST_STANDBY_URL=$(url "$sport")"
    ;;
*)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
