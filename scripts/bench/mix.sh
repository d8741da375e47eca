#!/usr/bin/env bash
# Load run: the realistic mix of scripts/bench/mix.lua (70 % reads of queues and history, 20 %
# checks and filings, 10 % decisions and manifests) against a release server on PostgreSQL
# holding `seed --scale N` applications. Reports throughput, p50/p95/p99 per request kind, the
# error rate, the server's peak RSS and the database's peak connections; then checks that every
# acknowledged write is in the database, the invariants of scripts/bench/sql/invariants.sql
# (quota, ledger, no half-applied transition, numbering) and the audit chain. With
# BENCH_SOAK=SECONDS: one long run that also fails when memory grows in its second half.
# See docs/BENCHMARKS.md.
#
#   scripts/bench/mix.sh                                            # N = 100 000, 60 s
#   BENCH_SCALE=1000000 BENCH_KEEP_DB=1 scripts/bench/mix.sh        # seed 1 M once (25–45 min, 21 GB), keep it
#   BENCH_DB=<kept database> scripts/bench/mix.sh                   # run again on it
#   BENCH_DB=<kept database> BENCH_SOAK=600 scripts/bench/mix.sh    # 10-minute soak
#
# Settings (environment, all optional):
#   BENCH_PG_URL         server URL without a database          postgres://postgres@127.0.0.1:5432
#   BENCH_SCALE          synthetic applications when seeding     100000
#   BENCH_MANIFESTS      manifests per seeded approval           15
#   BENCH_AUDIT          audit records per seeded application    20
#   BENCH_DB             reuse this (kept) database: no seeding; implies BENCH_KEEP_DB=1
#   BENCH_KEEP_DB        1: keep the database (its name is printed)
#   BENCH_DURATION       seconds measured                        60
#   BENCH_WARMUP         seconds of mix before measuring         10
#   BENCH_SOAK           seconds of a soak run (replaces BENCH_DURATION)
#   BENCH_RSS_MARGIN_MIB soak: allowed RSS growth in the second half   16
#   BENCH_CONNECTIONS    concurrent clients (wrk threads = connections)  16
#   BENCH_POOL_SIZE      HWT_POOL_SIZE of the server             16
#   BENCH_SWEEP_SECS     HWT_SWEEP_INTERVAL_SECS of the server   60
#   BENCH_BIN            use this binary instead of building target/release/hwtransfer
#   BENCH_COMMIT         with BENCH_BIN: the commit it was built from, for the report
#
# Exit status 0 when every check passed, 1 when one failed (the figures are printed first).
# Needs cargo, wrk (the LuaJIT build of Debian), psql, curl, jq; missing tools are installed
# with apt-get when running as root. Changes no tracked file.
#
# Library mode: `MIX_LIB=1 source scripts/bench/mix.sh` only defines the settings and functions
# below (scripts/reliability/replicas.sh uses them) and returns.
set -euo pipefail
# Its synthetic admins and regulators sign in with a password alone (no second factor enrolled).
export HWT_SECOND_FACTOR=${HWT_SECOND_FACTOR:-enrolled}
MIX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
SCALE=${BENCH_SCALE:-100000}
MANIFESTS=${BENCH_MANIFESTS:-15}
AUDIT=${BENCH_AUDIT:-20}
DURATION=${BENCH_DURATION:-60}
WARMUP=${BENCH_WARMUP:-10}
SOAK=${BENCH_SOAK:-0}
RSS_MARGIN_MIB=${BENCH_RSS_MARGIN_MIB:-16}
CONNS=${BENCH_CONNECTIONS:-16}
POOL=${BENCH_POOL_SIZE:-16}
SWEEP_SECS=${BENCH_SWEEP_SECS:-60}
KEEP_DB=${BENCH_KEEP_DB:-0}
REUSE=0
if [ -n "${BENCH_DB:-}" ]; then DB=$BENCH_DB; REUSE=1; KEEP_DB=1; else
    DB="hwt_bench_mix_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
fi
DB_URL="$PG_URL/$DB"
DB_CREATED=0
FAILED_CHECKS=()

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
check_failed() { printf 'CHECK FAILED: %s\n' "$*" >&2; FAILED_CHECKS+=("$*"); }
sql() { psql "$DB_URL" -AtXq -v ON_ERROR_STOP=1 -c "$1"; }
val() { sed -n "s/^$2=//p" "$1"; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN{if (b == 0) print "0.00"; else printf "%.2f", 100*a/b}'; }

mix_tools() {
    local missing=() tool
    for tool in wrk:wrk jq:jq psql:postgresql-client pg_isready:postgresql-client curl:curl; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        [ "$(id -u)" = 0 ] || die "missing tools (packages: ${missing[*]})"
        log "installing ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# TERM, up to 5 s, then KILL. Only ever our own children, by pid.
stop_pid() {
    local pid=${1:-}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

machine_ticks() { awk '/^cpu /{busy=$2+$3+$4+$7+$8+$9; print busy, busy+$5+$6; exit}' /proc/stat; }
# Cores kept busy by others for 3 s while nothing of ours runs (other engineers' builds, tests).
background_cores() {
    local b0 a0 b1 a1
    read -r b0 a0 < <(machine_ticks); sleep 3; read -r b1 a1 < <(machine_ticks)
    awk -v b=$((b1 - b0)) -v a=$((a1 - a0)) -v n="$(nproc)" 'BEGIN{printf "%.2f", n*b/a}'
}

mix_binary() {
    if [ -n "${BENCH_BIN:-}" ]; then BIN=$BENCH_BIN; else
        log "build (cargo build --release)"
        (cd "$MIX_ROOT" && cargo build --release --quiet)
        BIN="${CARGO_TARGET_DIR:-$MIX_ROOT/target}/release/hwtransfer"
    fi
    [ -x "$BIN" ] || die "no binary at $BIN"
    # The per-subject request limit (where the build has one) is off: the mix funnels the traffic
    # of many users through a dozen accounts, which would otherwise be throttled with 429.
    SERVER_ENV=()
    if "$BIN" --help 2>/dev/null | grep -q -- '--rate-limit-per-sec'; then SERVER_ENV+=(HWT_RATE_LIMIT_PER_SEC=0); fi
    COMMIT=$(git -C "$MIX_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [ -n "$(git -C "$MIX_ROOT" status --porcelain -- src migrations Cargo.toml Cargo.lock 2>/dev/null)" ]; then
        COMMIT="$COMMIT+uncommitted"
    fi
    # A given binary was built from something else: say what (BENCH_COMMIT), or that it is unknown.
    if [ -n "${BENCH_BIN:-}" ]; then COMMIT="${BENCH_COMMIT:-unknown} (BENCH_BIN=$BENCH_BIN)"; fi
}

pg_ensure_running() {
    if ! pg_isready -d "$PG_URL/postgres" -q; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
        for _ in $(seq 1 30); do pg_isready -d "$PG_URL/postgres" -q && break; sleep 1; done
    fi
    pg_isready -d "$PG_URL/postgres" -q || die "PostgreSQL is not running at $PG_URL"
    PG_VERSION=$(psql "$PG_URL/postgres" -AtXc "SHOW server_version")
}

# Creates and seeds the database, or migrates the kept one (BENCH_DB). Needs HWT_DATA_DIR.
mix_database() {
    export HWT_DATABASE_URL="$DB_URL" HWT_LOG=${HWT_LOG:-warn}
    GEN_SECONDS=""
    if [ "$REUSE" = 1 ]; then
        log "reuse database $DB"
        "$BIN" migrate >&2
    else
        psql "$PG_URL/postgres" -qXc "CREATE DATABASE \"$DB\"" >/dev/null
        DB_CREATED=1
        log "generate $DB: $SCALE applications, $MANIFESTS manifests per approval, $AUDIT audit records each"
        "$BIN" migrate >&2
        local g0
        g0=$(date +%s)
        "$BIN" seed --scale "$SCALE" --manifests-per-approval "$MANIFESTS" --audit-per-application "$AUDIT" >&2
        GEN_SECONDS=$(($(date +%s) - g0))
    fi
    SEEDED=$(sql "SELECT count(*) FROM transfer_applications WHERE id LIKE 'scale-%'")
    N_ENT=$(sql "SELECT count(*) FROM enterprises WHERE id LIKE 'scale-ent-%'")
}

# Producers: account, enterprise, province, province index (1-based, the order of `seed --scale`),
# and two operators holding confirmed HW08 category entries for that source province.
PRODUCERS=(
    "cq-producer demo-producer-cq 500000 1 demo-operator-sc demo-operator-gz-1"
    "bench-producer-cq-2 demo-producer-cq-2 500000 1 demo-operator-sc-2 demo-operator-yn-1"
    "bench-producer-sc-1 demo-producer-sc-1 510000 2 demo-operator-cq-1 demo-operator-gz-1"
    "bench-producer-gz-1 demo-producer-gz-1 520000 3 demo-operator-yn-1 demo-operator-sc"
    "bench-producer-yn-1 demo-producer-yn-1 530000 4 demo-operator-gz-1 demo-operator-cq-1"
)

# The world the mix needs. `seed --scale` makes no agreements, entries or accounts: the demo data
# adds this year's agreements between the four provinces, the operators' confirmed category
# entries and the demo accounts (idempotent); each other demo producer gets an enterprise account.
mix_world() {
    log "demo world: agreements, entries, accounts"
    "$BIN" seed --demo >/dev/null
    local users
    users=$("$BIN" user list)
    add_user() { # username role binding-flag binding
        grep -q "^$1[[:space:]]" <<<"$users" ||
            "$BIN" user add --username "$1" --password "bench-pass-2026" --role "$2" ${3:+"$3"} ${4:+"$4"} >/dev/null
    }
    add_user bench-auditor auditor
    add_user bench-producer-cq-2 enterprise --enterprise demo-producer-cq-2
    add_user bench-producer-sc-1 enterprise --enterprise demo-producer-sc-1
    add_user bench-producer-gz-1 enterprise --enterprise demo-producer-gz-1
    add_user bench-producer-yn-1 enterprise --enterprise demo-producer-yn-1
    # `seed --scale` gives its synthetic manifests serials of every city for 2026 without moving
    # manifest_counters, so the first real manifest of such a city draws serial 1 again and
    # collides with a synthetic number. Move each counter past them (a no-op without them).
    FIXED_COUNTERS=$(sql "WITH top AS (SELECT source_city, year, max(serial) AS s FROM manifests
            WHERE id LIKE 'scale-m-%' GROUP BY 1, 2),
        up AS (INSERT INTO manifest_counters (source_city, year, last_serial) SELECT source_city, year, s FROM top
            ON CONFLICT (source_city, year) DO UPDATE SET last_serial = EXCLUDED.last_serial
            WHERE manifest_counters.last_serial < EXCLUDED.last_serial RETURNING 1)
        SELECT count(*) FROM up")
    psql "$DB_URL" -qXc "ANALYZE" >/dev/null
    TODAY=$(date -u -d '+8 hours' +%F) # Asia/Shanghai
    YEAR=${TODAY%%-*}
    PERIOD_END=$(date -u -d "$TODAY +30 days" +%F)
}

tok() { "$BIN" token --user "$1"; }

# Lua config for mix.lua: file, run id, result file, directory for acknowledged writes.
write_config() {
    local file=$1 run=$2 result=$3 acks=$4 p user ent prov pidx ops op recv
    {
        echo "return {"
        echo "  run = \"$run\", result = \"$result\", ack_dir = \"$acks\","
        echo "  scale = $SEEDED, scale_enterprises = $((N_ENT > 0 ? N_ENT : 1)),"
        echo "  today = \"$TODAY\", period_end = \"$PERIOD_END\", code = \"900-249-08\","
        echo "  quantity_kg = \"2\", manifest_kg = \"0.5\", manifests_per_approval = 4,"
        echo "  history_from = \"2025-03-01\", history_to = \"2025-04-01\","
        echo "  provinces = { \"500000\", \"510000\", \"520000\", \"530000\" },"
        echo "  auditor = \"$(tok bench-auditor)\","
        echo "  regulators = { [\"500000\"] = \"$(tok cq-regulator)\", [\"510000\"] = \"$(tok sc-regulator)\","
        echo "                 [\"520000\"] = \"$(tok gz-regulator)\", [\"530000\"] = \"$(tok yn-regulator)\" },"
        echo "  producers = {"
        for p in "${PRODUCERS[@]}"; do
            read -r user ent prov pidx ops <<<"$p"
            echo "    { user = \"$user\", enterprise = \"$ent\", province = \"$prov\", pidx = $pidx, token = \"$(tok "$user")\","
            printf '      operators = { '
            for op in $ops; do
                recv=$(sql "SELECT receiving_province FROM whitelist_entries WHERE operator_id = '$op' AND source_province = '$prov'
                            AND year = $YEAR AND status = 'confirmed' AND scope = 'HW08' LIMIT 1")
                [ -n "$recv" ] || die "no confirmed HW08 entry of $op for source $prov in $YEAR"
                printf '{ id = "%s", province = "%s" }, ' "$op" "$recv"
            done
            echo "} },"
        done
        echo "  },"
        echo "}"
    } >"$file"
}

# Starts `serve` in the background: name, then extra environment assignments. Sets SERVER_PIDS[name]
# and SERVER_ADDRS[name]; output in $TMP/name.out / .err.
declare -A SERVER_PIDS=() SERVER_ADDRS=()
start_server() {
    local name=$1 addr="" pid
    shift
    env HWT_LISTEN=127.0.0.1:0 ${SERVER_ENV[@]+"${SERVER_ENV[@]}"} "$@" "$BIN" serve >"$TMP/$name.out" 2>"$TMP/$name.err" &
    pid=$!
    SERVER_PIDS[$name]=$pid
    for _ in $(seq 1 300); do
        addr=$(sed -n 's|^hwtransfer listening on http://\([0-9.:]*\).*|\1|p' "$TMP/$name.out" | head -1)
        [ -n "$addr" ] && curl -fsS "http://$addr/readyz" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || die "server $name exited: $(tail -5 "$TMP/$name.err")"
        sleep 0.2
    done
    curl -fsS "http://$addr/readyz" >/dev/null || die "server $name not ready"
    SERVER_ADDRS[$name]=$addr
}

# Every producer's check on each of its operators must route to the whitelist.
probe_checks() {
    local base=$1 p user ent prov pidx ops op body route
    for p in "${PRODUCERS[@]}"; do
        read -r user ent prov pidx ops <<<"$p"
        for op in $ops; do
            body=$(jq -cn --arg op "$op" --arg s "$TODAY" --arg e "$PERIOD_END" '{operator_id: $op, method: "dispose",
                period_start: $s, period_end: $e, items: [{waste_code: "900-249-08", waste_name: "废矿物油",
                physical_form: "液态", hazards: ["T"], packaging: "桶", quantity_kg: "2"}],
                carriers: [{name: "危运物流有限公司", permit_number: "交运管危字000000001号", plate: "渝A12345"}]}')
            route=$(curl -fsS -X POST "$base/api/v1/transfer-applications/check" -H "Authorization: Bearer $(tok "$user")" \
                -H 'Content-Type: application/json' -d "$body" | jq -r .route)
            [ "$route" = whitelist ] || die "check for $user → $op routes to '$route', not the whitelist"
        done
    done
}

# wrk in the background with one connection per thread: seconds, config, base URL, connections.
start_wrk() {
    MIX_CONFIG="$2" timeout $(($1 + 120)) wrk -t "$4" -c "$4" -d "${1}s" --timeout 10s --latency \
        -s "$MIX_ROOT/scripts/bench/mix.lua" "$3" >"$2.wrk" 2>&1 &
    LAST_WRK=$!
}

# Waits until the audit head stops moving (requests in flight when wrk stopped are finished).
settle_writes() {
    local settled now
    settled=$(sql "SELECT seq FROM audit_head")
    for _ in $(seq 1 30); do
        sleep 0.5
        now=$(sql "SELECT seq FROM audit_head")
        [ "$now" = "$settled" ] && break
        settled=$now
    done
}

# Every write acknowledged with a 2xx (the lines mix.lua logged) is in the database.
check_acks() {
    local dir=$1 name n
    cat "$dir"/ack-* 2>/dev/null | awk 'NF>=4{print $1"\t"$2"\t"$3"\t"$4}' >"$TMP/acks.tsv" || true
    ACKS=$(wc -l <"$TMP/acks.tsv")
    psql "$DB_URL" -qX -v ON_ERROR_STOP=1 >"$TMP/ackcheck.txt" <<EOF
CREATE TEMP TABLE acks (kind text, id text, v text, extra text);
\copy acks FROM '$TMP/acks.tsv'
\pset format unaligned
\pset tuples_only on
\pset fieldsep '|'
SELECT 'acknowledged filings missing, or stored under another key', count(*) FROM acks k
  LEFT JOIN transfer_applications a ON a.id = k.id
  WHERE k.kind = 'file' AND (a.id IS NULL OR a.idempotency_key IS DISTINCT FROM k.extra);
SELECT 'acknowledged decisions not in the database (older version, approval or refusal lost)', count(*) FROM acks k
  LEFT JOIN transfer_applications a ON a.id = k.id
  WHERE k.kind IN ('accept', 'decide')
    AND (a.id IS NULL OR a.version < k.v::int OR (k.extra = 'approved' AND a.status NOT IN ('approved', 'expired'))
         OR (k.extra = 'refused' AND a.status <> 'refused'));
SELECT 'acknowledged manifests missing or renumbered', count(*) FROM acks k
  LEFT JOIN manifests m ON m.id = k.id
  WHERE k.kind = 'manifest' AND (m.id IS NULL OR m.number <> k.extra OR m.application_id <> k.v);
EOF
    while IFS='|' read -r name n; do
        [ "$n" = 0 ] || check_failed "$name: $n"
    done <"$TMP/ackcheck.txt"
    ACK_SUMMARY=$(awk -F'\t' '{n[$1]++} END{for(k in n) printf "%s %d, ", k, n[k]}' "$TMP/acks.tsv" | sed 's/, $//')
}

check_invariants() {
    local name n detail
    psql "$DB_URL" -AtX -F '|' -v ON_ERROR_STOP=1 -f "$MIX_ROOT/scripts/bench/sql/invariants.sql" >"$TMP/invariants.txt" ||
        check_failed "invariants.sql did not run"
    while IFS='|' read -r name n detail; do
        [ "$n" = 0 ] || check_failed "invariant '$name': $n violation(s), e.g. $detail"
    done <"$TMP/invariants.txt"
    INVARIANTS_OK=$(awk -F'|' '$2==0' "$TMP/invariants.txt" | wc -l)
    INVARIANTS_ALL=$(wc -l <"$TMP/invariants.txt")
}

check_audit() {
    local t0
    t0=$(date +%s)
    if AUDIT_OUT=$(HWT_DATABASE_URL="$DB_URL" "$BIN" audit verify 2>&1); then AUDIT_OK=1; else
        AUDIT_OK=0
        check_failed "audit verify: $AUDIT_OUT"
    fi
    AUDIT_SECS=$(($(date +%s) - t0))
    # One line: intact, records checked, first break.
    AUDIT_LINE=$(jq -r '"intact \(.intact), \(.checked) records checked, first break \(.first_break // "none")"' <<<"$AUDIT_OUT" 2>/dev/null ||
        echo "$AUDIT_OUT" | tail -1)
}

# The per-kind table from a mix.lua result file; the total for the shares.
print_kinds() {
    local res=$1 total=$2 kind name rest n label
    echo "| kind | share | requests | ok | 409/412 | errors | p50 | p95 | p99 | max | statuses |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    grep -E '^(class|op|key) ' "$res" | while read -r kind name rest; do
        [ "$kind" = key ] && [ "${name#*:}" = "$name" ] && continue
        get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $rest"; }
        n=$(get n)
        case $kind in class) label="**$name**" ;; op) label="$name" ;; *) label="· $name" ;; esac
        printf '| %s | %s %% | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$(pct "$n" "$total")" "$n" \
            "$(get ok)" "$(get conflicts)" "$(get errors)" "$(get p50)" "$(get p95)" "$(get p99)" "$(get max)" "$(get statuses)"
    done
}

# The end of a report: a warning when other processes kept the machine busy (cores before, after).
warn_if_disturbed() {
    if awk -v a="$1" -v b="$2" 'BEGIN{exit !(a > 0.2 || b > 0.2)}'; then
        echo
        echo "WARNING: other processes kept $1 / $2 cores busy before / after: these figures are disturbed."
    fi
}

# The last lines of a report: every failed check (exit 1), or that all passed.
end_with_checks() {
    if [ ${#FAILED_CHECKS[@]} -gt 0 ]; then
        echo
        printf 'FAILED CHECK: %s\n' "${FAILED_CHECKS[@]}"
        exit 1
    fi
    echo
    echo "all checks passed"
}

[ "${MIX_LIB:-0}" = 1 ] && return 0

# =============================================================================================
[ "$SOAK" -gt 0 ] && DURATION=$SOAK
mix_tools
TMP=$(mktemp -d -t hwtransfer-mix.XXXXXX)
SAMPLER_PID=""
LAST_WRK=""
cleanup() {
    local rc=$?
    stop_pid "$LAST_WRK"
    stop_pid "$SAMPLER_PID"
    stop_pid "${SERVER_PIDS[mix]:-}"
    if [ "$DB_CREATED" = 1 ] || [ "$REUSE" = 1 ]; then
        if [ "$KEEP_DB" = 1 ]; then echo "database kept: $DB" >&2; else
            psql "$PG_URL/postgres" -qXc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 ||
                echo "warning: could not drop database $DB" >&2
        fi
    fi
    if [ "$rc" != 0 ] && [ -f "$TMP/mix.err" ]; then
        echo "--- last lines of the server's log ---" >&2
        tail -20 "$TMP/mix.err" >&2
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mix_binary
pg_ensure_running
export HWT_DATA_DIR="$TMP/data"
# Tokens made on the command line must outlive the run.
export HWT_ACCESS_TOKEN_TTL_SECS=$((WARMUP + DURATION + 3600 < 86400 ? WARMUP + DURATION + 3600 : 86400))
mkdir -p "$HWT_DATA_DIR"
mix_database
mix_world

RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
ACK_DIR="$TMP/acks"
mkdir -p "$ACK_DIR"
write_config "$TMP/warmup.lua" "$RUN_ID-w" "$TMP/warmup.txt" "$ACK_DIR"
write_config "$TMP/measured.lua" "$RUN_ID-m" "$TMP/measured.txt" "$ACK_DIR"

BG_BEFORE=$(background_cores)

log "server (pool $POOL, sweeper every ${SWEEP_SECS}s)"
start_server mix HWT_POOL_SIZE="$POOL" HWT_SWEEP_INTERVAL_SECS="$SWEEP_SECS" \
    HWT_DATABASE_URL="$DB_URL?application_name=hwt-mix"
SERVER_PID=${SERVER_PIDS[mix]}
BASE="http://${SERVER_ADDRS[mix]}"
probe_checks "$BASE"

# Every second: the server's RSS, the database's client connections (not counting this query's
# own) and its parallel query workers.
sampler() {
    local t0 rss conns
    t0=$(date +%s)
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/{print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
        conns=$(psql "$PG_URL/postgres" -AtX -F ' ' -c "SELECT count(*) FILTER (WHERE backend_type = 'client backend'),
            count(*) FILTER (WHERE backend_type = 'parallel worker') FROM pg_stat_activity
            WHERE datname = '$DB' AND pid <> pg_backend_pid()" 2>/dev/null || echo "-1 -1")
        echo "$(($(date +%s) - t0)) $rss $conns" >>"$TMP/samples"
        sleep 1
    done
}

if [ "$WARMUP" -gt 0 ]; then
    log "warm-up: ${WARMUP}s, $CONNS connections"
    start_wrk "$WARMUP" "$TMP/warmup.lua" "$BASE" "$CONNS"
    wait "$LAST_WRK" || { cat "$TMP/warmup.lua.wrk" >&2; die "wrk failed"; }
    LAST_WRK=""
    echo "warm-up: $(val "$TMP/warmup.txt" rate) requests/s, errors $(val "$TMP/warmup.txt" errors)" >&2
fi

log "measured: ${DURATION}s, $CONNS connections$([ "$SOAK" -gt 0 ] && echo " (soak)" || true)"
RSS_START_KB=$(awk '/^VmRSS:/{print $2}' "/proc/$SERVER_PID/status")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
read -r M0_BUSY M0_ALL < <(machine_ticks)
: >"$TMP/samples"
sampler &
SAMPLER_PID=$!
start_wrk "$DURATION" "$TMP/measured.lua" "$BASE" "$CONNS"
wait "$LAST_WRK" || { cat "$TMP/measured.lua.wrk" >&2; die "wrk failed"; }
LAST_WRK=""
read -r M1_BUSY M1_ALL < <(machine_ticks)
stop_pid "$SAMPLER_PID"
SAMPLER_PID=""
RES="$TMP/measured.txt"
[ -s "$RES" ] || { cat "$TMP/measured.lua.wrk" >&2; die "wrk wrote no summary"; }
PEAK_HWM_KB=$(awk '/^VmHWM:/{print $2}' "/proc/$SERVER_PID/status")
RSS_END_KB=$(awk '/^VmRSS:/{print $2}' "/proc/$SERVER_PID/status")
PEAK_CONNS=$(awk 'BEGIN{m=0} $3>m{m=$3} END{print m}' "$TMP/samples")
PEAK_WORKERS=$(awk 'BEGIN{m=0} $4>m{m=$4} END{print m}' "$TMP/samples")
CORES=$(awk -v b=$((M1_BUSY - M0_BUSY)) -v a=$((M1_ALL - M0_ALL)) -v n="$(nproc)" 'BEGIN{printf "%.2f", n*b/a}')

log "checks"
settle_writes
ERRORS=$(val "$RES" errors)
SOCKET=$(val "$RES" socket_errors)
REQS=$(val "$RES" answered)
[ "$ERRORS" = 0 ] || check_failed "$ERRORS answers were errors (not the expected 2xx, 409 or 412): $(grep '^op ' "$RES" | grep -v ' errors=0 ' | sed 's/ p50=.*statuses=/ /' | tr '\n' ';')"
[ "$SOCKET" = 0 ] || check_failed "$SOCKET socket errors ($(val "$RES" socket_detail))"
check_acks "$ACK_DIR"
check_invariants
check_audit

SOAK_LINE=""
if [ "$SOAK" -gt 0 ]; then
    # Memory in the second half may not grow by more than the margin (1-second samples).
    HALF=$((DURATION / 2))
    read -r RSS_MID RSS_MAX2 RSS_LAST < <(awk -v h="$HALF" '$1>=h && !m{mid=$2; m=1} $1>=h && $2>mx{mx=$2} {last=$2} END{print mid+0, mx+0, last+0}' "$TMP/samples")
    GROWTH_KB=$((RSS_MAX2 - RSS_MID))
    SOAK_LINE="RSS at the half-way mark $((RSS_MID / 1024)) MiB, highest in the second half $((RSS_MAX2 / 1024)) MiB (+$((GROWTH_KB / 1024)) MiB; margin $RSS_MARGIN_MIB MiB), at the end $((RSS_LAST / 1024)) MiB"
    [ "$GROWTH_KB" -le $((RSS_MARGIN_MIB * 1024)) ] ||
        check_failed "soak: RSS grew by $((GROWTH_KB / 1024)) MiB in the second half (margin $RSS_MARGIN_MIB MiB)"
fi
BG_AFTER=$(background_cores)

cat <<EOF

Mix benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT$([ "$SOAK" -gt 0 ] && echo ", SOAK" || true)
machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), PostgreSQL $PG_VERSION
database $DB: $SEEDED seeded applications$([ -n "$GEN_SECONDS" ] && echo " (generated in ${GEN_SECONDS}s)" || true), $(sql "SELECT count(*) FROM transfer_applications") applications now, $(sql "SELECT pg_size_pretty(pg_database_size(current_database()))")
load: $CONNS connections (wrk threads = connections), ${DURATION}s measured after ${WARMUP}s warm-up, server pool $POOL, sweeper every ${SWEEP_SECS}s
background load (nothing of ours running): $BG_BEFORE cores before, $BG_AFTER after; load average before: $LOAD_BEFORE; cores busy during the run: $CORES of $(nproc)

| measure | value |
|---|---|
| throughput | $(val "$RES" rate) requests/s ($REQS answered in $(val "$RES" duration_s) s) |
| latency p50 / p95 / p99 / max (all requests, wrk) | $(val "$RES" p50_ms) / $(val "$RES" p95_ms) / $(val "$RES" p99_ms) / $(val "$RES" max_ms) ms |
| errors (not 2xx, not 409/412) | $ERRORS = $(pct "$ERRORS" "$REQS") % |
| conflicts (409/412) | $(val "$RES" conflicts) |
| socket errors | $SOCKET ($(val "$RES" socket_detail)) |
| server RSS: start / end / peak (VmHWM) | $((RSS_START_KB / 1024)) / $((RSS_END_KB / 1024)) / $((PEAK_HWM_KB / 1024)) MiB |
| database connections, peak (client backends in pg_stat_activity, 1 s samples) | $PEAK_CONNS (and up to $PEAK_WORKERS parallel query workers) |
| acknowledged writes checked (warm-up + measured) | $ACKS ($ACK_SUMMARY) |
| invariants (scripts/bench/sql/invariants.sql) | $INVARIANTS_OK of $INVARIANTS_ALL hold |
| audit verify | $([ "$AUDIT_OK" = 1 ] && echo "ok" || echo "FAILED") (${AUDIT_SECS}s): $AUDIT_LINE |
| manifest counters moved past synthetic serials | $FIXED_COUNTERS |
$([ -n "$SOAK_LINE" ] && echo "| soak memory | $SOAK_LINE |" || true)

Per class, per request kind and per variant (latency measured in mix.lua, buckets of ±1 %; ms):

EOF
print_kinds "$RES" "$REQS"
if [ "$SOAK" -gt 0 ]; then
    echo
    echo "Every 10 s: seconds:RSS MiB/database connections"
    awk '{b = int($1 / 10)} b != last {printf "%s:%d/%d ", $1, $2/1024, $3; last = b} END{print ""}' last=-1 "$TMP/samples"
fi
warn_if_disturbed "$BG_BEFORE" "$BG_AFTER"
end_with_checks
