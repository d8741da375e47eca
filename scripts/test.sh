#!/usr/bin/env bash
# The README's test command: prepares what a fresh Debian/Ubuntu machine lacks, then runs the
# whole suite with `cargo nextest run "$@"` (arguments go to nextest, e.g. -E 'test(openapi)').
#
#   1. Tools: the C build dependencies of the bundled client libraries, Chromium, ChromeDriver and
#      a CJK font for the web UI's browser tests, the PostgreSQL server and client — installed
#      with apt-get when missing and this runs as root; otherwise it says what to install and
#      goes on (the browser tests then fail saying that chromedriver is missing). cargo-nextest
#      is installed with cargo when missing.
#   2. PostgreSQL: with TEST_POSTGRES_URL set, that server is used as it is. Otherwise the tests
#      use postgres://postgres@127.0.0.1:5432 (trust): when nothing answers there, the machine's
#      cluster is started (pg_ctlcluster) if it has one, else a throwaway cluster is created
#      under target/pg on a free port (trust, no fsync), started for this run, stopped at the
#      end, and TEST_POSTGRES_URL points the tests at it.
#   3. A primary with a hot standby for the read-replica test (scripts/replica.sh, two throwaway
#      clusters under target/replica, left running for the next run), unless TEST_STANDBY_URL and
#      TEST_REPLICA_PRIMARY_URL are given.
#
# Settings: HWT_TEST_PG=throwaway uses a throwaway cluster even when a server runs on 5432;
# HWT_TEST_KEEP_PG=1 leaves a throwaway cluster running afterwards; `--prepare` only installs
# the tools (used by .ci/run before its format and lint steps).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*" >&2; }

is_root() { [ "$(id -u)" = 0 ]; }

# True when something accepts TCP connections on host:port.
listening() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -h "$1" -p "$2" -q
    else
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
    fi
}

# True when the TCP port is taken by anything.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_listening() {
    for _ in $(seq 1 60); do
        listening "$1" "$2" && return 0
        sleep 0.5
    done
    return 1
}

# The newest installed PostgreSQL server's bin directory, if any.
pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

# Installs Debian packages when missing and possible (root, apt-get); else says how. True when
# nothing is missing afterwards.
install() {
    [ $# -gt 0 ] || return 0
    if is_root && command -v apt-get >/dev/null 2>&1; then
        say "installing $*"
        if [ -z "${APT_UPDATED:-}" ]; then
            apt-get update -qq
            APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    else
        say "missing: $* (install with: sudo apt-get install $*)"
        return 1
    fi
}

has_package() { command -v dpkg >/dev/null 2>&1 && dpkg -s "$1" >/dev/null 2>&1; }

prepare_tools() {
    local missing=()
    # Build dependencies of the bundled SQLite and PostgreSQL client libraries and of OpenSSL users.
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    [ -f /usr/include/openssl/ssl.h ] || has_package libssl-dev || missing+=(libssl-dev)
    command -v cc >/dev/null 2>&1 || missing+=(gcc)
    command -v make >/dev/null 2>&1 || missing+=(make)
    command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
    # The web UI's browser tests: Chromium, its driver, a font with Chinese characters.
    [ -n "${CHROME_BIN:-}" ] || command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    [ -n "${CHROMEDRIVER:-}" ] || command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
    ! command -v dpkg >/dev/null 2>&1 || has_package fonts-wqy-microhei || missing+=(fonts-wqy-microhei)
    if ! install "${missing[@]}"; then
        say "the suite runs anyway: without chromium and chromium-driver the web UI's browser tests fail, saying so"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        say "no Rust toolchain: install it from https://rustup.rs (1.88 or newer), then run this again"
        exit 1
    fi
    if ! cargo nextest --version >/dev/null 2>&1; then
        say "installing cargo-nextest"
        cargo install cargo-nextest --locked
    fi
}

# True when user postgres may connect to the server on this port without a password.
trusted() {
    if ! command -v psql >/dev/null 2>&1; then
        return 0
    fi
    PGCONNECT_TIMEOUT=5 psql -w -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1
}

PG_STARTED_DATA=""

stop_throwaway() {
    if [ -n "$PG_STARTED_DATA" ] && [ "${HWT_TEST_KEEP_PG:-0}" != 1 ]; then
        as_pg_owner "$(pg_bindir)/pg_ctl" -D "$PG_STARTED_DATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

# Runs a command as the owner of the throwaway cluster: PostgreSQL refuses to run as root.
as_pg_owner() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

throwaway_cluster() {
    local bindir root data port
    bindir=$(pg_bindir)
    if [ -z "$bindir" ]; then
        install postgresql || true
        bindir=$(pg_bindir)
    fi
    if [ -z "$bindir" ]; then
        say "no PostgreSQL server installed (Debian package postgresql) and none usable running: the tests need one"
        say "install it, or point TEST_POSTGRES_URL at a server (postgres://user@host:port, trust authentication)"
        exit 1
    fi
    root="$PWD/target/pg"
    data="$root/data"
    mkdir -p "$root"
    if is_root; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
        chown postgres "$root"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        say "creating a throwaway PostgreSQL cluster in target/pg"
        as_pg_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C >"$root/initdb.log" 2>&1 || {
            cat "$root/initdb.log" >&2
            exit 1
        }
    fi
    if [ -f "$root/port" ] && listening 127.0.0.1 "$(cat "$root/port")"; then
        port=$(cat "$root/port")
    else
        port=55432
        while port_taken "$port"; do port=$((port + 1)); done
        echo "$port" >"$root/port"
        as_pg_owner "$bindir/pg_ctl" -D "$data" -l "$root/server.log" -w \
            -o "-p $port -k $root -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null
        PG_STARTED_DATA="$data"
        trap stop_throwaway EXIT
    fi
    wait_listening 127.0.0.1 "$port" || {
        say "the throwaway cluster did not start; see target/pg/server.log"
        exit 1
    }
    export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port"
    say "PostgreSQL: throwaway cluster at $TEST_POSTGRES_URL"
}

prepare_postgres() {
    if [ -n "${TEST_POSTGRES_URL:-}" ]; then
        say "PostgreSQL: $TEST_POSTGRES_URL (TEST_POSTGRES_URL)"
        return
    fi
    if [ "${HWT_TEST_PG:-}" = throwaway ]; then
        throwaway_cluster
        return
    fi
    if listening 127.0.0.1 5432 || start_machine_cluster; then
        if trusted 5432; then
            say "PostgreSQL: running on 127.0.0.1:5432"
            return
        fi
        say "the server on 127.0.0.1:5432 does not trust user postgres without a password; using a throwaway cluster"
    fi
    throwaway_cluster
}

# Starts the machine's own cluster (Debian's pg_ctlcluster), if it has one; true when it is up.
start_machine_cluster() {
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$version" ] && [ -d "/etc/postgresql/$version/main" ] && command -v pg_ctlcluster >/dev/null 2>&1 || return 1
    say "PostgreSQL: starting the machine's cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || return 1
    wait_listening 127.0.0.1 5432
}

if [ "${1:-}" = --prepare ]; then
    prepare_tools
    exit 0
fi
# The read-replica test's primary and hot standby (scripts/replica.sh), unless given.
prepare_replica() {
    if [ -n "${TEST_STANDBY_URL:-}" ] && [ -n "${TEST_REPLICA_PRIMARY_URL:-}" ]; then
        say "read replica: $TEST_STANDBY_URL (TEST_STANDBY_URL)"
        return
    fi
    if scripts/replica.sh start; then
        eval "$(scripts/replica.sh env)"
    else
        say "could not start the primary and hot standby (scripts/replica.sh); the read-replica test fails, saying so"
    fi
}

prepare_tools
prepare_postgres
prepare_replica
say "cargo nextest run $*"
# Not exec: a throwaway cluster started here is stopped when the run ends.
cargo nextest run "$@"
