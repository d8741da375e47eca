#!/usr/bin/env bash
# Benchmark: whitelist-route filings per second over HTTP at 32 concurrent clients on PostgreSQL,
# against pgbench running the same SQL on the same database. See docs/BENCHMARKS.md.
#
#   scripts/bench/filings.sh
#
# Settings (environment, all optional):
#   BENCH_PG_URL       server URL without a database   postgres://postgres@127.0.0.1:5432
#   BENCH_CONNECTIONS  concurrent HTTP clients and pgbench clients   32
#   BENCH_DURATION     seconds measured, per load phase              30
#   BENCH_WARMUP       seconds of HTTP load before measuring         5
#   BENCH_POOL_SIZE    HWT_POOL_SIZE of the server                   32
#   BENCH_QUANTITY_KG  kilograms per filing                          1
#   BENCH_KEEP_DB      1: keep the database afterwards (dropped by default)
#   BENCH_BIN          a built service binary to run instead of building one (release build)
#   BENCH_SKIP_SQL_CHECK  1: skip check-filing-sql.sh (the pgbench scripts against the service's SQL)
#   BENCH_SPREAD_ENTRIES  entries of the spread phase (0: no spread phase)   20
#   BENCH_WAITS        1: sample what the database's busy sessions wait on (pg_stat_activity,
#                      every 0.1 s) in each HTTP phase, and print the commonest (wait, statement)
#
# Needs: cargo, wrk, pgbench, psql, pg_isready, curl, jq. Missing wrk/jq/pgbench are installed with
# apt-get when running as root. Writes only to a temporary directory; changes no tracked file.
set -euo pipefail
# Its synthetic admins and regulators sign in with a password alone (no second factor enrolled).
export HWT_SECOND_FACTOR=${HWT_SECOND_FACTOR:-enrolled}

cd "$(dirname "$0")/../.."
BENCH_DIR=scripts/bench

PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
CONNS=${BENCH_CONNECTIONS:-32}
DURATION=${BENCH_DURATION:-30}
WARMUP=${BENCH_WARMUP:-5}
POOL=${BENCH_POOL_SIZE:-32}
QTY_KG=${BENCH_QUANTITY_KG:-1}
KEEP_DB=${BENCH_KEEP_DB:-0}
SPREAD=${BENCH_SPREAD_ENTRIES:-20}
WAITS=${BENCH_WAITS:-0}
WAITS_PID=
WRK_THREADS=2
PGBENCH_THREADS=2

log() { printf '\n== %s\n' "$*" >&2; }
# A failed check is reported, and fails the run, after the figures are printed.
FAILED_CHECKS=()
check_failed() {
    printf 'CHECK FAILED: %s\n' "$*" >&2
    FAILED_CHECKS+=("$*")
}
die() {
    printf 'FAILED: %s\n' "$*" >&2
    exit 1
}

# --- tools -----------------------------------------------------------------------------------
missing=()
for tool in wrk:wrk jq:jq pgbench:postgresql psql:postgresql-client pg_isready:postgresql-client curl:curl; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing tools (packages: ${missing[*]})"
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- state cleaned up on exit ----------------------------------------------------------------
TMP=$(mktemp -d -t hwt-bench.XXXXXX)
DB="hwt_bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
DB_URL="$PG_URL/$DB"
SERVER_PID=""
DB_CREATED=0

cleanup() {
    local rc=$?
    [ -z "$WAITS_PID" ] || touch "$TMP/waits.stop"
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$DB_CREATED" = 1 ]; then
        if [ "$KEEP_DB" = 1 ]; then
            echo "database kept: $DB" >&2
        else
            psql "$PG_URL/postgres" -qXc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 ||
                echo "warning: could not drop database $DB" >&2
        fi
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CPU accounting: whole machine (/proc/stat) and one process (/proc/PID/stat), in clock ticks.
machine_ticks() { awk '/^cpu /{busy=$2+$3+$4+$7+$8+$9; print busy, busy+$5+$6; exit}' /proc/stat; }
proc_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# All PostgreSQL processes (server and backends) alive now.
pg_ticks() { cat /proc/[0-9]*/stat 2>/dev/null | awk '$2 == "(postgres)" {s += $14 + $15} END {print s + 0}'; }
# Cores kept busy by others while nothing of ours runs (3 s): other engineers' builds and tests.
background_cores() {
    local b0 a0 b1 a1
    read -r b0 a0 < <(machine_ticks)
    sleep 3
    read -r b1 a1 < <(machine_ticks)
    awk -v b=$((b1 - b0)) -v a=$((a1 - a0)) -v n="$(nproc)" 'BEGIN{printf "%.2f", n*b/a}'
}
# CPU seconds (user+sys) of this shell's waited-for children so far: bash `times`, second line.
# `times` must run in this shell (a $(…) subshell has no children yet), hence the file.
children_cpu() {
    times >"$TMP/times"
    awk 'NR==2{s=0; for(i=1;i<=2;i++){split($i,a,/[ms]/); s+=a[1]*60+a[2]} print s}' "$TMP/times"
}
HZ=$(getconf CLK_TCK)

# --- build -----------------------------------------------------------------------------------
if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
    log "binary $BIN (BENCH_BIN, not built here)"
else
    log "build (cargo build --release)"
    cargo build --release --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/hwtransfer"
fi
[ -x "$BIN" ] || die "no binary at $BIN"
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- src migrations Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    COMMIT="$COMMIT+uncommitted"
fi

# --- PostgreSQL and the database -------------------------------------------------------------
log "PostgreSQL"
if ! pg_isready -d "$PG_URL/postgres" -q; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
    for _ in $(seq 1 30); do
        pg_isready -d "$PG_URL/postgres" -q && break
        sleep 1
    done
fi
pg_isready -d "$PG_URL/postgres" >&2

# The pgbench scripts must be the SQL this binary sends for a filing (issue #18): a fresh capture
# compared with them, statement for statement (scripts/bench/check-filing-sql.sh).
if [ "${BENCH_SKIP_SQL_CHECK:-0}" != 1 ]; then
    log "the pgbench scripts against the service's SQL (check-filing-sql.sh)"
    BENCH_BIN="$BIN" BENCH_PG_URL="$PG_URL" BENCH_QUANTITY_KG="$QTY_KG" "$BENCH_DIR/check-filing-sql.sh" ||
        die "scripts/bench/sql/{checkout,filing-tx,response}.sql are not what the service sends: capture and generate them again (docs/BENCHMARKS.md), or BENCH_SKIP_SQL_CHECK=1"
fi
PG_VERSION=$(psql "$PG_URL/postgres" -AtXc "SHOW server_version")
psql "$PG_URL/postgres" -qXc "CREATE DATABASE \"$DB\"" >/dev/null
DB_CREATED=1
echo "database $DB (PostgreSQL $PG_VERSION)" >&2

export HWT_DATABASE_URL="$DB_URL"
export HWT_DATA_DIR="$TMP/data"
mkdir -p "$HWT_DATA_DIR"
export HWT_LOG=warn
"$BIN" migrate >&2
"$BIN" seed --demo >/dev/null

sql() { psql "$DB_URL" -AtXq -v ON_ERROR_STOP=1 -c "$1"; }

# With BENCH_WAITS=1, while a phase ($1) runs: every 0.1 s, one line per busy session of the
# database, "wait event | the statement's start" (CPU when it waits on nothing) — which lock or
# flush the filings queue on. One psql session for the phase (its CPU counts with wrk's).
start_waits() {
    [ "$WAITS" = 1 ] || return 0
    rm -f "$TMP/waits.stop"
    while [ ! -e "$TMP/waits.stop" ]; do
        echo "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') || ' | ' ||
            left(regexp_replace(query, '\s+', ' ', 'g'), 45) FROM pg_stat_activity
            WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid();"
        sleep 0.1
    done | psql "$DB_URL" -AtXq >>"$TMP/waits.$1" 2>/dev/null &
    WAITS_PID=$!
}
# Ends the sampling: the loop stops, psql reads the end of its input and exits.
stop_waits() {
    [ -n "$WAITS_PID" ] || return 0
    touch "$TMP/waits.stop"
    wait "$WAITS_PID" 2>/dev/null || true
    WAITS_PID=
}
# The commonest lines of phase $1's samples, with their share of all its samples.
print_waits() {
    [ -s "$TMP/waits.$1" ] || return 0
    echo
    echo "what the busy sessions waited on, $1 phase ($(wc -l <"$TMP/waits.$1") samples):"
    sort "$TMP/waits.$1" | uniq -c | sort -rn | head -6 |
        awk -v n="$(wc -l <"$TMP/waits.$1")" '{c=$1; $1=""; printf "  %5.1f %% %s\n", 100*c/n, $0}'
}

# The filing: demo-producer-cq (500000) → demo-operator-sc (510000), 900-249-08 (HW08), on the
# seeded confirmed category entry (quota 5 % of the 60 000 t licence = 3 000 t).
ENT=demo-producer-cq
OP=demo-operator-sc
CODE=900-249-08
CATEGORY=HW08
TODAY=$(date -u -d '+8 hours' +%F) # Asia/Shanghai, no daylight saving
YEAR=${TODAY%%-*}
PERIOD_END=$(date -u -d "$TODAY +30 days" +%F)
ENTRY="demo-entry-$YEAR-$OP-500000-$CATEGORY"
[ "$(sql "SELECT count(*) FROM whitelist_entries WHERE id = '$ENTRY' AND status = 'confirmed'")" = 1 ] ||
    die "seeded entry $ENTRY not found"
QUOTA_G=$(sql "SELECT quota_g - reserved_g - approved_g FROM whitelist_entries WHERE id = '$ENTRY'")
GRAMS=$(awk -v q="$QTY_KG" 'BEGIN{printf "%d", q*1000 + 0.5}')
# Room for far more filings than 2 cores can make: 2 × (warm-up + 3 phases) × 5000/s.
NEED_G=$((GRAMS * 5000 * (WARMUP + 3 * DURATION) * 2))
[ "$NEED_G" -le "$QUOTA_G" ] || die "quota $QUOTA_G g too small for $GRAMS g filings; lower BENCH_QUANTITY_KG"

BODY=$(jq -cn --arg op "$OP" --arg start "$TODAY" --arg until "$PERIOD_END" --arg code "$CODE" --arg kg "$QTY_KG" '{
  operator_id: $op, method: "dispose", period_start: $start, period_end: $until,
  items: [{waste_code: $code, waste_name: "废矿物油", physical_form: "液态", hazards: ["T", "I"],
           packaging: "200 L 铁桶", quantity_kg: $kg}],
  carriers: [{name: "重庆危运物流有限公司", permit_number: "渝交运管危字500000001号", plate: "渝A12345"}]}')

BG_BEFORE=$(background_cores)
echo "background load before: $BG_BEFORE cores busy" >&2

# --- the server ------------------------------------------------------------------------------
log "server (pool $POOL)"
HWT_LISTEN=127.0.0.1:0 HWT_RATE_LIMIT_PER_SEC=0 HWT_SWEEP_INTERVAL_SECS=0 HWT_POOL_SIZE="$POOL" \
    "$BIN" serve >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
ADDR=""
for _ in $(seq 1 100); do
    ADDR=$(sed -n 's|^hwtransfer listening on http://\([0-9.:]*\).*|\1|p' "$TMP/server.out" | head -1)
    [ -n "$ADDR" ] && curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || {
        cat "$TMP/server.err" >&2
        die "server exited"
    }
    sleep 0.2
done
curl -fsS "http://$ADDR/readyz" >/dev/null || die "server not ready"
BASE="http://$ADDR"
TOKEN=$("$BIN" token --user cq-producer)
ADMIN_TOKEN=$("$BIN" token --user admin)

LEDGER0=$(sql "SELECT count(*) FROM quota_ledger WHERE entry_id = '$ENTRY' AND movement = 'reserve'")
RESERVED0=$(sql "SELECT reserved_g FROM whitelist_entries WHERE id = '$ENTRY'")

# One filing by hand: must be 201 on the whitelist route.
curl -sS -o "$TMP/first.json" -w '%{http_code}' -X POST "$BASE/api/v1/transfer-applications" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: bench-probe" -d "$BODY" >"$TMP/first.code"
[ "$(cat "$TMP/first.code")" = 201 ] || die "probe filing answered $(cat "$TMP/first.code"): $(head -c 600 "$TMP/first.json")"
[ "$(jq -r .route "$TMP/first.json")" = whitelist ] || die "probe filing took route $(jq -r .route "$TMP/first.json")"

RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
run_wrk() { # seconds, result file[, bodies, key prefix]
    BENCH_TOKEN="$TOKEN" BENCH_BODY="${3:-$BODY}" BENCH_KEY_PREFIX="${4:-bench}" BENCH_RUN="$RUN_ID-$2" BENCH_RESULT="$TMP/$2.txt" \
        timeout $(($1 + 60)) wrk -t "$WRK_THREADS" -c "$CONNS" -d "${1}s" --timeout 10s --latency \
        -s "$BENCH_DIR/filing.lua" "$BASE/api/v1/transfer-applications" >"$TMP/$2.wrk.txt"
}
val() { sed -n "s/^$2=//p" "$TMP/$1.txt"; }

log "HTTP warm-up: ${WARMUP}s, $CONNS connections"
run_wrk "$WARMUP" warmup
echo "warm-up: $(val warmup rate) filings/s, statuses $(val warmup statuses)" >&2

log "HTTP measured: ${DURATION}s, $CONNS connections"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
read -r M0_BUSY M0_ALL < <(machine_ticks)
S0=$(proc_ticks "$SERVER_PID")
P0=$(pg_ticks)
children_cpu >"$TMP/c0"
start_waits measured
run_wrk "$DURATION" measured
stop_waits
children_cpu >"$TMP/c1"
S1=$(proc_ticks "$SERVER_PID")
P1=$(pg_ticks)
read -r M1_BUSY M1_ALL < <(machine_ticks)
cat "$TMP/measured.wrk.txt" >&2
PEAK_RSS_KB=$(awk '/^VmHWM:/{print $2}' "/proc/$SERVER_PID/status")

# Cores in use on average during the measured phase: whole machine, server, wrk, the rest
# (PostgreSQL and anything else running).
ELAPSED=$(awk -v a=$((M1_ALL - M0_ALL)) -v n="$(nproc)" -v hz="$HZ" 'BEGIN{print a/n/hz}')
CORES_MACHINE=$(awk -v b=$((M1_BUSY - M0_BUSY)) -v hz="$HZ" -v e="$ELAPSED" 'BEGIN{printf "%.2f", b/hz/e}')
CORES_SERVER=$(awk -v t=$((S1 - S0)) -v hz="$HZ" -v e="$ELAPSED" 'BEGIN{printf "%.2f", t/hz/e}')
CORES_WRK=$(awk -v c0="$(cat "$TMP/c0")" -v c1="$(cat "$TMP/c1")" -v e="$ELAPSED" 'BEGIN{printf "%.2f", (c1-c0)/e}')
CORES_PG=$(awk -v t=$((P1 - P0)) -v hz="$HZ" -v e="$ELAPSED" 'BEGIN{printf "%.2f", t/hz/e}')
CORES_REST=$(awk -v m="$CORES_MACHINE" -v s="$CORES_SERVER" -v w="$CORES_WRK" -v p="$CORES_PG" 'BEGIN{printf "%.2f", m-s-w-p}')

# --- checks of the HTTP run ------------------------------------------------------------------
log "checks"
for phase in warmup measured; do
    [ "$(val $phase statuses)" = "201:$(val $phase requests)" ] ||
        check_failed "$phase: not every answer was 201: $(val $phase statuses) of $(val $phase requests)"
    [ "$(val $phase socket_errors)" = 0 ] || check_failed "$phase: $(val $phase socket_errors) socket errors"
done
HTTP_OK=$(($(val warmup status_201) + $(val measured status_201) + 1))
# The demo seed files applications of its own (some on the standard route): count only ours,
# which carry a bench-… Idempotency-Key, and only the reservations made since the probe.
MINE="idempotency_key LIKE 'bench-%'"
count_mine() { sql "SELECT count(*) FROM transfer_applications WHERE $MINE"; }
# The count a counting function ($1) settles at: requests in flight when wrk stopped still finish.
settle() {
    local was now
    was=$($1)
    for _ in $(seq 1 20); do
        sleep 0.5
        now=$($1)
        [ "$now" = "$was" ] && break
        was=$now
    done
    echo "$was"
}
settled=$(settle count_mine)
STANDARD=$(sql "SELECT count(*) FROM transfer_applications WHERE $MINE AND route <> 'whitelist'")
WHITELIST=$(sql "SELECT count(*) FROM transfer_applications WHERE $MINE AND route = 'whitelist'")
LEDGER=$(sql "SELECT count(*) FROM quota_ledger WHERE entry_id = '$ENTRY' AND movement = 'reserve'")
RESERVED=$(sql "SELECT reserved_g FROM whitelist_entries WHERE id = '$ENTRY'")
[ "$STANDARD" = 0 ] || check_failed "$STANDARD filings took the standard route; reasons: $(sql "SELECT string_agg(DISTINCT route_reasons, ' ') FROM transfer_applications WHERE $MINE AND route <> 'whitelist'")"
# wrk stops counting at the deadline: requests in flight then may still be stored (≤ CONNS a phase).
[ "$WHITELIST" -ge "$HTTP_OK" ] && [ "$WHITELIST" -le $((HTTP_OK + 2 * CONNS)) ] ||
    check_failed "$WHITELIST whitelist applications stored for $HTTP_OK answers 201"
[ $((LEDGER - LEDGER0)) = "$WHITELIST" ] || check_failed "$((LEDGER - LEDGER0)) reserve ledger rows for $WHITELIST applications"
[ $((RESERVED - RESERVED0)) = $((WHITELIST * GRAMS)) ] ||
    check_failed "reserved $((RESERVED - RESERVED0)) g, expected $((WHITELIST * GRAMS)) g"
# Through the API, as admin: none of ours on the standard queue, and a few of ours read back.
STD_IDS=$(curl -fsS -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$BASE/api/v1/transfer-applications?route=standard&limit=100" | jq -r '[.items[].id] | map("'"'"'" + . + "'"'"'") | join(",")')
if [ -n "$STD_IDS" ]; then
    [ "$(sql "SELECT count(*) FROM transfer_applications WHERE $MINE AND id IN ($STD_IDS)")" = 0 ] ||
        check_failed "GET ?route=standard lists benchmark filings"
fi
for id in $(sql "SELECT id FROM transfer_applications WHERE $MINE ORDER BY random() LIMIT 3"); do
    route=$(curl -fsS -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/api/v1/transfer-applications/$id" | jq -r .route)
    [ "$route" = whitelist ] || check_failed "GET application $id: route $route"
done
echo "HTTP checks done: $HTTP_OK answers 201, $WHITELIST whitelist applications of ours stored, $STANDARD on the standard route" >&2

# --- the spread phase: the same filings over many entries -------------------------------------
# Issue #18: filings spread over 20 entries make at least 1.5x the one-entry rate. The demo world's
# confirmed category entries from Chongqing this year (each with a code of its category), up to
# BENCH_SPREAD_ENTRIES; the same producer, connections and duration; keys `spread-...`.
SPREAD_RATE=""
if [ "$SPREAD" -gt 0 ]; then
    mapfile -t SPREAD_ROWS < <(sql "SELECT e.id || ' ' || e.operator_id || ' ' || min(w.code)
        FROM whitelist_entries e JOIN waste_codes w ON w.category = e.scope
        WHERE e.source_province = '500000' AND e.year = $YEAR AND e.status = 'confirmed'
          AND e.scope_kind = 'category'
        GROUP BY e.id, e.operator_id ORDER BY e.id LIMIT $SPREAD")
    SPREAD_IDS="" SPREAD_BODIES=""
    for row in "${SPREAD_ROWS[@]}"; do
        read -r sid sop scode <<<"$row"
        b=$(jq -c --arg op "$sop" --arg code "$scode" '.operator_id = $op | .items[0].waste_code = $code' <<<"$BODY")
        # Each must be a whitelist filing on its entry: one probe each.
        code=$(curl -sS -o "$TMP/probe.json" -w '%{http_code}' -X POST "$BASE/api/v1/transfer-applications" \
            -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
            -H "Idempotency-Key: spread-probe-$RUN_ID-$sid" -d "$b")
        if [ "$code" != 201 ] || [ "$(jq -r .route "$TMP/probe.json")" != whitelist ]; then
            echo "spread: $sid ($sop, $scode) left out: $code $(jq -c '.route_reasons // .errors // .detail' "$TMP/probe.json" | head -c 300)" >&2
            continue
        fi
        SPREAD_IDS+="${SPREAD_IDS:+,}'$sid'"
        SPREAD_BODIES+="$b"$'\n'
    done
    SPREAD_N=$(grep -c . <<<"$SPREAD_BODIES" || true)
    [ "$SPREAD_N" -ge 2 ] || die "spread: fewer than two entries take whitelist filings"
    spread_ledger() { sql "SELECT count(*) FROM quota_ledger WHERE entry_id IN ($SPREAD_IDS) AND movement = 'reserve'"; }
    count_spread() { sql "SELECT count(*) FROM transfer_applications WHERE idempotency_key LIKE 'spread-%' AND idempotency_key NOT LIKE 'spread-probe-%'"; }
    SPREAD_LEDGER0=$(spread_ledger)
    log "HTTP spread: ${DURATION}s, $CONNS connections, over $SPREAD_N entries"
    start_waits spread
    run_wrk "$DURATION" spread "$SPREAD_BODIES" spread
    stop_waits
    SPREAD_RATE=$(val spread rate)
    echo "spread: $SPREAD_RATE filings/s over $SPREAD_N entries, p50 / p99 $(val spread p50_ms) / $(val spread p99_ms) ms, statuses $(val spread statuses)" >&2
    [ "$(val spread statuses)" = "201:$(val spread requests)" ] || check_failed "spread: not every answer was 201: $(val spread statuses)"
    settled=$(settle count_spread)
    SPREAD_STD=$(sql "SELECT count(*) FROM transfer_applications WHERE idempotency_key LIKE 'spread-%' AND route <> 'whitelist'")
    [ "$SPREAD_STD" = 0 ] || check_failed "spread: $SPREAD_STD filings took the standard route"
    [ "$settled" -ge "$(val spread status_201)" ] && [ "$settled" -le $(($(val spread status_201) + CONNS)) ] ||
        check_failed "spread: $settled applications stored for $(val spread status_201) answers 201"
    [ $(($(spread_ledger) - SPREAD_LEDGER0)) = "$settled" ] ||
        check_failed "spread: $(($(spread_ledger) - SPREAD_LEDGER0)) reserve ledger rows for $settled applications"
    [ "$(sql "SELECT count(*) FROM whitelist_entries WHERE reserved_g + approved_g > quota_g")" = 0 ] ||
        check_failed "spread: quota invariant broken"
fi

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

# --- pgbench ---------------------------------------------------------------------------------
# The values the service binds, taken from the probe filing it stored (filing-vars.sh: the same
# names filing_sql.py gave the captured values).
mapfile -t VARS < <("$BENCH_DIR/filing-vars.sh" "$DB_URL" bench-probe)
[ ${#VARS[@]} -gt 0 ] || die "filing-vars.sh found no probe filing"
PGB_VARS=()
for v in "${VARS[@]}"; do PGB_VARS+=(-D "$v"); done
cp "$BENCH_DIR/sql/filing-tx.sql" "$TMP/tx.sql"
cat "$BENCH_DIR/sql/checkout.sql" "$BENCH_DIR/sql/filing-tx.sql" "$BENCH_DIR/sql/response.sql" >"$TMP/request.sql"

run_pgbench() { # name
    mkdir -p "$TMP/pgb-$1"
    timeout $((DURATION + 60)) pgbench -n -M prepared -c "$CONNS" -j "$PGBENCH_THREADS" -T "$DURATION" \
        -l --log-prefix="$TMP/pgb-$1/log" "${PGB_VARS[@]}" -f "$TMP/$1.sql" "$DB_URL" >"$TMP/pgb-$1.txt" 2>"$TMP/pgb-$1.err" ||
        {
            cat "$TMP/pgb-$1.err" >&2
            die "pgbench $1 failed"
        }
    cat "$TMP/pgb-$1.txt" >&2
    grep -q '^number of failed transactions: 0 ' "$TMP/pgb-$1.txt" || check_failed "pgbench $1: failed transactions"
    # Per-transaction log: field 3 is the latency in microseconds.
    cat "$TMP/pgb-$1"/log* | awk '{print $3}' | sort -n >"$TMP/pgb-$1.lat"
}
pgb_tps() { sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$TMP/pgb-$1.txt" | xargs printf '%.1f'; }
pgb_count() { sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$TMP/pgb-$1.txt"; }
pgb_pct() { awk -v p="$2" '{a[NR]=$1} END{i=int(NR*p/100+0.999999); if(i<1)i=1; printf "%.2f", a[i]/1000}' "$TMP/pgb-$1.lat"; }

log "pgbench: the filing transaction (BEGIN … COMMIT), ${DURATION}s, $CONNS clients"
read -r PM0_BUSY PM0_ALL < <(machine_ticks)
children_cpu >"$TMP/c0"
run_pgbench tx
children_cpu >"$TMP/c1"
read -r PM1_BUSY PM1_ALL < <(machine_ticks)
PGB_ELAPSED=$(awk -v a=$((PM1_ALL - PM0_ALL)) -v n="$(nproc)" -v hz="$HZ" 'BEGIN{print a/n/hz}')
CORES_PGB=$(awk -v b=$((PM1_BUSY - PM0_BUSY)) -v hz="$HZ" -v e="$PGB_ELAPSED" 'BEGIN{printf "%.2f", b/hz/e}')
CORES_PGB_CLIENT=$(awk -v c0="$(cat "$TMP/c0")" -v c1="$(cat "$TMP/c1")" -v e="$PGB_ELAPSED" 'BEGIN{printf "%.2f", (c1-c0)/e}')
log "pgbench: the whole request's SQL (checkouts and the calendar's version + transaction + the answer's reads), ${DURATION}s"
run_pgbench request

PGB_LEDGER=$(sql "SELECT count(*) FROM quota_ledger WHERE application_id LIKE 'pgb-a-%'")
PGB_DONE=$(($(pgb_count tx) + $(pgb_count request)))
[ "$PGB_LEDGER" = "$PGB_DONE" ] || check_failed "pgbench: $PGB_LEDGER reservations for $PGB_DONE transactions"
[ "$(sql "SELECT count(*) FROM whitelist_entries WHERE id = '$ENTRY' AND reserved_g + approved_g <= quota_g")" = 1 ] ||
    check_failed "quota invariant broken"
echo "pgbench checks done: $PGB_LEDGER reservations for $PGB_DONE transactions" >&2

BG_AFTER=$(background_cores)

# --- summary ---------------------------------------------------------------------------------
RATE=$(val measured rate)
TPS_TX=$(pgb_tps tx)
TPS_REQ=$(pgb_tps request)
RATIO_TX=$(awk -v a="$RATE" -v b="$TPS_TX" 'BEGIN{printf "%.0f", 100*a/b}')
RATIO_REQ=$(awk -v a="$RATE" -v b="$TPS_REQ" 'BEGIN{printf "%.0f", 100*a/b}')
P99=$(val measured p99_ms)
verdict() { if [ "$1" = 1 ]; then echo met; else echo "NOT met"; fi; }
# Issue #18's targets for one hot entry at 32 clients (the older ones, 60 % and 50 ms, are
# superseded): at least 90 % of pgbench running the same SQL, p99 under 150 ms.
MET_RATIO=$(verdict "$(awk -v r="$RATIO_TX" 'BEGIN{print (r >= 90)}')")
MET_P99=$(verdict "$(awk -v p="$P99" 'BEGIN{print (p < 150)}')")

cat <<EOF

Filing benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT
machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), PostgreSQL $PG_VERSION
load: $CONNS connections, ${DURATION}s measured after ${WARMUP}s warm-up, server pool $POOL, $QTY_KG kg per filing
background load (nothing of ours running): $BG_BEFORE cores before, $BG_AFTER after; load average before the HTTP phase: $LOAD_BEFORE

| measure                                   | value |
|-------------------------------------------|-------|
| HTTP filings/s (all 201, whitelist route) | $RATE |
| HTTP latency p50 / p90 / p99 / max (ms)   | $(val measured p50_ms) / $(val measured p90_ms) / $P99 / $(val measured max_ms) |
| HTTP errors (non-201, socket)             | $(($(val measured requests) - $(val measured status_201))) / $(val measured socket_errors) |
| server peak RSS (VmHWM)                   | $((PEAK_RSS_KB / 1024)) MiB |
| cores busy, HTTP phase: all / server / PostgreSQL / wrk / other | $CORES_MACHINE / $CORES_SERVER / $CORES_PG / $CORES_WRK / $CORES_REST (of $(nproc)) |
| pgbench tps, filing transaction           | $TPS_TX (p50 $(pgb_pct tx 50) ms, p99 $(pgb_pct tx 99) ms) |
| cores busy, pgbench phase: all / pgbench client | $CORES_PGB / $CORES_PGB_CLIENT (of $(nproc)) |
| pgbench tps, whole request's SQL          | $TPS_REQ (p50 $(pgb_pct request 50) ms, p99 $(pgb_pct request 99) ms) |
| HTTP / pgbench (transaction)              | ${RATIO_TX} % |
| HTTP / pgbench (whole request's SQL)      | ${RATIO_REQ} % |

target ≥ 90 % of pgbench (transaction): $MET_RATIO (${RATIO_TX} %)
target p99 < 150 ms:                    $MET_P99 (${P99} ms)
EOF
if [ -n "$SPREAD_RATE" ]; then
    SPREAD_X=$(awk -v a="$SPREAD_RATE" -v b="$RATE" 'BEGIN{printf "%.2f", a/b}')
    echo "| HTTP filings/s spread over $SPREAD_N entries | $SPREAD_RATE (p50 / p99 $(val spread p50_ms) / $(val spread p99_ms) ms) |"
    echo "target spread >= 1.5 x one entry:        $(verdict "$(awk -v x="$SPREAD_X" 'BEGIN{print (x >= 1.5)}')") (${SPREAD_X}x)"
fi
print_waits measured
print_waits spread
if awk -v a="$BG_BEFORE" -v b="$BG_AFTER" 'BEGIN{exit !(a > 0.2 || b > 0.2)}'; then
    echo "WARNING: other processes kept $BG_BEFORE / $BG_AFTER cores busy before / after: these figures are disturbed; run again on a quiet machine."
fi
if [ ${#FAILED_CHECKS[@]} -gt 0 ]; then
    printf 'FAILED CHECK: %s\n' "${FAILED_CHECKS[@]}"
    exit 1
fi
