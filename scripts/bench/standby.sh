#!/usr/bin/env bash
# The read replica under load: the mix of scripts/bench/mix.lua against a release server on the
# primary of scripts/replica.sh's pair (a hot standby made with `pg_basebackup -R`), run in turn
# without and with HWT_READ_DATABASE_URL pointing at the standby. For each run: throughput and
# latency, the archive reads the standby served and those the primary kept (by reason, from the
# server's hwtransfer_archive_reads_total), and the CPU the primary's cluster, the standby's
# cluster and the server used while measured (every process of each cluster, exited ones through
# the postmaster's reaped-children time). Beside the mix, a probe files an application and at
# once reads its own history, over and over: a history without the filing it just made is a stale
# read of a caller's own write. Afterwards every acknowledged write is in the primary, the
# invariants hold and the audit chain verifies. See docs/BENCHMARKS.md.
#
#   scripts/bench/standby.sh                          # seeds 100 000 applications on the pair's primary
#   STANDBY_ROUNDS=3 BENCH_DURATION=90 scripts/bench/standby.sh
#
# Settings (environment, all optional; the BENCH_ ones of scripts/bench/mix.sh apply too, except
# BENCH_PG_URL, which is the pair's primary):
#   STANDBY_ROUNDS     rounds of one run without and one with the standby (order alternates)   2
#   STANDBY_MAX_LAG_MS HWT_READ_MAX_LAG_MS of the server with the standby                      5000
#
# The two clusters share this machine's cores with the server and wrk, so the standby's CPU is
# not free here as it would be on its own host: read the primary's CPU, not the throughput, for
# what the standby takes off it. Exit status 1 when a check failed.
set -euo pipefail
# Its synthetic admins and regulators sign in with a password alone (no second factor enrolled).
export HWT_SECOND_FACTOR=${HWT_SECOND_FACTOR:-enrolled}
HERE=$(cd "$(dirname "$0")/../.." && pwd)

"$HERE/scripts/replica.sh" start
PAIR="$HERE/target/replica"
read -r PPORT SPORT <"$PAIR/ports"
export BENCH_PG_URL="postgres://postgres@127.0.0.1:$PPORT"
STANDBY_PG_URL="postgres://postgres@127.0.0.1:$SPORT"
MIX_LIB=1 source "$HERE/scripts/bench/mix.sh"

ROUNDS=${STANDBY_ROUNDS:-2}
MAX_LAG_MS=${STANDBY_MAX_LAG_MS:-5000}
HZ=$(getconf CLK_TCK)
PROBE_USER=bench-producer-yn-1
PROBE_OPERATOR=demo-operator-gz-1

mix_tools
TMP=$(mktemp -d -t hwtransfer-standby.XXXXXX)
LAST_WRK=""
PROBE_PID=""
SERVER_PID=""
cleanup() {
    local rc=$?
    stop_pid "$LAST_WRK"
    stop_pid "$PROBE_PID"
    stop_pid "$SERVER_PID"
    if [ "$DB_CREATED" = 1 ] && [ "$KEEP_DB" != 1 ]; then
        psql "$PG_URL/postgres" -qXc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            echo "warning: could not drop database $DB" >&2
    elif [ "$DB_CREATED" = 1 ]; then
        echo "database kept on the pair's primary: $DB" >&2
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Clock ticks used so far by every process of the cluster in data directory $1: the postmaster
# with the children it has reaped (cutime, cstime), and each live child.
cluster_ticks() {
    local pm child
    pm=$(head -1 "$1/postmaster.pid")
    {
        cat "/proc/$pm/stat"
        for child in $(pgrep -P "$pm"); do cat "/proc/$child/stat" 2>/dev/null || true; done
    } | awk -v pm="$pm" '{ pid = $1; sub(/^[0-9]+ \([^)]*\) /, "")
        t = $12 + $13; if (pid == pm) t += $14 + $15; s += t } END { print s + 0 }'
}
process_ticks() { sed 's/^[0-9]* ([^)]*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
cores() { awk -v t="$1" -v hz="$HZ" -v s="$2" 'BEGIN{printf "%.2f", t / hz / s}'; }
# A counter of the server's /metrics text in file $1: name and labels exactly as printed.
metric() { awk -v k="$2" '$1 == k {print $2; f=1} END{if (!f) print 0}' "$1"; }
archive() { metric "$1" "hwtransfer_archive_reads_total{reason=\"$2\",server=\"$3\"}"; }
diff_of() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%d", b - a}'; }

# Waits until the standby has replayed everything the primary has written so far.
standby_caught_up() {
    local lsn
    lsn=$(psql "$PG_URL/postgres" -AtXc "SELECT pg_current_wal_lsn()")
    for _ in $(seq 1 600); do
        [ "$(psql "$STANDBY_PG_URL/postgres" -AtXc "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '$lsn') >= 0")" = t ] && return 0
        sleep 0.5
    done
    die "the standby did not catch up with the primary in 5 minutes"
}

# Files an application as $PROBE_USER and at once reads the first page of its history, until
# $TMP/stop-probe exists; one line per round in $2: fresh|stale|unfiled <application id>.
probe() {
    local base=$1 out=$2 run=$3 token body id found n=0
    token=$(tok "$PROBE_USER")
    while [ ! -e "$TMP/stop-probe" ]; do
        n=$((n + 1))
        body=$(jq -cn --arg op "$PROBE_OPERATOR" --arg s "$TODAY" --arg e "$PERIOD_END" '{operator_id: $op,
            method: "dispose", period_start: $s, period_end: $e, items: [{waste_code: "900-249-08",
            waste_name: "废矿物油", physical_form: "液态", hazards: ["T"], packaging: "桶", quantity_kg: "0.1"}],
            carriers: [{name: "危运物流有限公司", permit_number: "交运管危字000000001号", plate: "云A12345"}]}')
        id=$(curl -sS -X POST "$base/api/v1/transfer-applications" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -H "Idempotency-Key: probe-$run-$n" -d "$body" | jq -r '.id // empty' || true)
        if [ -z "$id" ]; then
            echo "unfiled -" >>"$out"
            continue
        fi
        found=$(curl -sS "$base/api/v1/transfers?limit=50&totals=false" -H "Authorization: Bearer $token" |
            jq -r --arg id "$id" '[.items[].application_id] | index($id) != null' || true)
        echo "$([ "$found" = true ] && echo fresh || echo stale) $id" >>"$out"
    done
}

# One run: mode (primary|standby), name. Appends a row to $TMP/rows and sums to $TMP/sums.
run_mix() {
    local mode=$1 name=$2 extra=() base w res p0 p1 s0 s1 v0 v1 secs
    extra=(HWT_POOL_SIZE="$POOL" HWT_SWEEP_INTERVAL_SECS="$SWEEP_SECS"
        HWT_DATABASE_URL="$DB_URL?application_name=hwt-$name")
    if [ "$mode" = standby ]; then
        extra+=(HWT_READ_DATABASE_URL="$STANDBY_PG_URL/$DB?application_name=hwt-$name" HWT_READ_MAX_LAG_MS="$MAX_LAG_MS")
    fi
    settle_writes
    standby_caught_up
    log "$name: server $([ "$mode" = standby ] && echo "with the standby" || echo "on the primary alone"), ${WARMUP}s warm-up, ${DURATION}s measured"
    start_server "$name" "${extra[@]}"
    SERVER_PID=${SERVER_PIDS[$name]}
    base="http://${SERVER_ADDRS[$name]}"
    if [ "$mode" = standby ]; then
        for _ in $(seq 1 50); do
            [ "$(curl -fsS "$base/readyz" | jq -r '.read_replica.state')" = ok ] && break
            sleep 0.2
        done
        [ "$(curl -fsS "$base/readyz" | jq -r '.read_replica.state')" = ok ] || die "$name: the standby is not serving"
    fi
    write_config "$TMP/$name-w.lua" "$RUN_ID-$name-w" "$TMP/$name-w.txt" "$ACK_DIR"
    write_config "$TMP/$name.lua" "$RUN_ID-$name" "$TMP/$name.txt" "$ACK_DIR"
    if [ "$WARMUP" -gt 0 ]; then
        start_wrk "$WARMUP" "$TMP/$name-w.lua" "$base" "$CONNS"
        wait "$LAST_WRK" || { cat "$TMP/$name-w.lua.wrk" >&2; die "wrk failed"; }
    fi
    curl -fsS "$base/metrics" >"$TMP/$name.m0"
    rm -f "$TMP/stop-probe"
    probe "$base" "$TMP/$name.probe" "$RUN_ID-$name" &
    PROBE_PID=$!
    p0=$(cluster_ticks "$PAIR/primary")
    s0=$(cluster_ticks "$PAIR/standby")
    v0=$(process_ticks "$SERVER_PID")
    secs=$(date +%s.%N)
    start_wrk "$DURATION" "$TMP/$name.lua" "$base" "$CONNS"
    wait "$LAST_WRK" || { cat "$TMP/$name.lua.wrk" >&2; die "wrk failed"; }
    LAST_WRK=""
    p1=$(cluster_ticks "$PAIR/primary")
    s1=$(cluster_ticks "$PAIR/standby")
    v1=$(process_ticks "$SERVER_PID")
    secs=$(awk -v a="$secs" -v b="$(date +%s.%N)" 'BEGIN{print b - a}')
    touch "$TMP/stop-probe"
    wait "$PROBE_PID" || true
    PROBE_PID=""
    curl -fsS "$base/metrics" >"$TMP/$name.m1"
    stop_pid "$SERVER_PID"
    SERVER_PID=""
    res="$TMP/$name.txt"
    [ -s "$res" ] || { cat "$TMP/$name.lua.wrk" >&2; die "wrk wrote no summary"; }
    [ "$(val "$res" errors)" = 0 ] || check_failed "$name: $(val "$res" errors) answers were errors"
    [ "$(val "$res" socket_errors)" = 0 ] || check_failed "$name: $(val "$res" socket_errors) socket errors"

    local m0="$TMP/$name.m0" m1="$TMP/$name.m1" reason by_standby own other history probes stale unfiled hp95 answered
    by_standby=$(diff_of "$(archive "$m0" replayed standby)" "$(archive "$m1" replayed standby)")
    own=$(diff_of "$(archive "$m0" own_write_not_replayed primary)" "$(archive "$m1" own_write_not_replayed primary)")
    other=0
    for reason in standby_down standby_lagging standby_failed; do
        other=$((other + $(diff_of "$(archive "$m0" "$reason" primary)" "$(archive "$m1" "$reason" primary)")))
    done
    history=$(sed -n 's/^op history n=\([0-9]*\) .*/\1/p' "$res")
    hp95=$(sed -n 's/^op history .* p95=\([0-9.]*\) .*/\1/p' "$res")
    answered=$(val "$res" answered)
    probes=$(wc -l <"$TMP/$name.probe")
    stale=$(grep -c '^stale ' "$TMP/$name.probe" || true)
    unfiled=$(grep -c '^unfiled ' "$TMP/$name.probe" || true)
    [ "$stale" = 0 ] || check_failed "$name: $stale of $probes probes did not find the application they had just filed in their history"
    [ "$probes" -gt "$unfiled" ] || check_failed "$name: the probe filed nothing ($unfiled attempts)"
    printf '| %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s / %s / %s | %s / %s |\n' "$name" "$(val "$res" rate)" \
        "$(val "$res" p95_ms)" "$(val "$res" p99_ms)" "$hp95" \
        "$(cores $((p1 - p0)) "$secs")" "$(awk -v t=$((p1 - p0)) -v hz="$HZ" -v n="$answered" 'BEGIN{printf "%.2f", n ? 1000 * t / hz / n : 0}')" \
        "$(cores $((s1 - s0)) "$secs")" "$(cores $((v1 - v0)) "$secs")" \
        "$history" "$by_standby" "$own" "$other" "$((probes - stale - unfiled))" "$stale" >>"$TMP/rows"
    echo "$mode $(val "$res" rate) $((p1 - p0)) $((s1 - s0)) $((v1 - v0)) $secs $by_standby $own $other $history $answered" >>"$TMP/sums"
}

mix_binary
export HWT_DATA_DIR="$TMP/data"
export HWT_ACCESS_TOKEN_TTL_SECS=86400
mkdir -p "$HWT_DATA_DIR"
PG_VERSION=$(psql "$PG_URL/postgres" -AtXc "SHOW server_version")
mix_database
mix_world
RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
ACK_DIR="$TMP/acks"
mkdir -p "$ACK_DIR"
BG_BEFORE=$(background_cores)

: >"$TMP/rows"
: >"$TMP/sums"
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="primary standby"; else order="standby primary"; fi
    for mode in $order; do run_mix "$mode" "$mode-$r"; done
done

log "checks"
settle_writes
check_acks "$ACK_DIR"
check_invariants
check_audit
standby_caught_up
ON_PRIMARY=$(sql "SELECT count(*) FROM transfer_applications")
ON_STANDBY=$(psql "$STANDBY_PG_URL/$DB" -AtXc "SELECT count(*) FROM transfer_applications")
[ "$ON_PRIMARY" = "$ON_STANDBY" ] || check_failed "caught up, the standby holds $ON_STANDBY applications and the primary $ON_PRIMARY"
BG_AFTER=$(background_cores)

# Means per mode: requests/s, primary / standby / server cores, standby share of archive reads.
summary() {
    awk -v hz="$HZ" -v m="$1" '$1 == m { n++; rate += $2; p += $3 / hz / $6; s += $4 / hz / $6; v += $5 / hz / $6
        st += $7; own += $8; oth += $9; h += $10; a += $11; pt += $3 / hz }
        END { if (!n) exit; printf "%.1f %.2f %.2f %.2f %.2f %.1f %.1f\n", rate / n, p / n, s / n, v / n, a ? 1000 * pt / a : 0,
            (st + own + oth) ? 100 * st / (st + own + oth) : 0, a ? 100 * st / a : 0 }' "$TMP/sums"
}
read -r R_P CP_P CS_P CV_P MS_P _ _ < <(summary primary)
read -r R_S CP_S CS_S CV_S MS_S SHARE_ARCH SHARE_ALL < <(summary standby)

cat <<EOF

Standby benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT
machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), PostgreSQL $PG_VERSION (scripts/replica.sh pair: primary :$PPORT, hot standby :$SPORT)
database $DB: $SEEDED seeded applications$([ -n "$GEN_SECONDS" ] && echo " (generated in ${GEN_SECONDS}s)" || true), $ON_PRIMARY applications now, $(sql "SELECT pg_size_pretty(pg_database_size(current_database()))")
load: $CONNS connections, ${DURATION}s measured after ${WARMUP}s warm-up per run, server pool $POOL, $ROUNDS round(s); with the standby HWT_READ_MAX_LAG_MS=$MAX_LAG_MS
background load (nothing of ours running): $BG_BEFORE cores before, $BG_AFTER after

| run | requests/s | p95 / p99 ms | history p95 ms | primary cores | primary CPU ms per request | standby cores | server cores | archive reads: mix history requests / served by the standby / primary, own write not replayed / primary, standby down or behind | probes: fresh / stale |
|---|---:|---:|---:|---:|---:|---:|---:|---|---|
$(cat "$TMP/rows")

| mean | without the standby | with the standby |
|---|---:|---:|
| requests/s | $R_P | $R_S |
| primary cluster, cores busy | $CP_P | $CP_S ($(awk -v a="$CP_P" -v b="$CP_S" 'BEGIN{printf "%+.1f", a ? 100 * (b - a) / a : 0}') %) |
| primary cluster, CPU ms per request answered (all runs of the mode) | $MS_P | $MS_S ($(awk -v a="$MS_P" -v b="$MS_S" 'BEGIN{printf "%+.1f", a ? 100 * (b - a) / a : 0}') %) |
| standby cluster, cores busy (replaying, and serving) | $CS_P | $CS_S |
| server, cores busy | $CV_P | $CV_S |
| archive reads served by the standby | — | $SHARE_ARCH % ($SHARE_ALL % of all requests of the mix) |

acknowledged writes checked: $ACKS ($ACK_SUMMARY); invariants: $INVARIANTS_OK of $INVARIANTS_ALL hold; audit verify: $([ "$AUDIT_OK" = 1 ] && echo ok || echo FAILED) ($AUDIT_LINE); the standby, caught up, holds the primary's $ON_PRIMARY applications: $([ "$ON_PRIMARY" = "$ON_STANDBY" ] && echo yes || echo NO)
EOF
warn_if_disturbed "$BG_BEFORE" "$BG_AFTER"
end_with_checks
