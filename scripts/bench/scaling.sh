#!/usr/bin/env bash
# Scaling of the reads (issue #18): the same reads against 20 000 and 200 000 seeded applications,
# one after the other in one run, one client at a time; no read should be more than 1.5× slower
# for 10× the data. Seeds two PostgreSQL databases the way scripts/bench/mix.sh does (`seed
# --scale N`, then the demo world), starts a release server on each, and sends every read kind of
# scripts/bench/mix.lua with its exact query string — the regulator's queue (side=source,
# side=receiving, overdue=true, status=submitted), the history filters (status, code, one month,
# a producer with totals, an operator, the nationwide auditor with totals), a get by id — plus
# seven reads the mix does not send: the history of a seeded operator (the mix's operators are
# demo ones, with demo applications only), the regulator's list without side (all cases, and
# status=approved) at its first page and at a page deep in the archive (a cursor into the
# seeded range), and the web UI's queue counts fragment and dashboard.
# Prints, per read, p50 and p95 at each scale and the ratio of the p50s; a ratio over 1.5 is
# marked "over target". See docs/BENCHMARKS.md.
#
#   scripts/bench/scaling.sh                                        # 20 000 and 200 000
#   BENCH_KEEP_DB=1 scripts/bench/scaling.sh                        # keep both databases (names printed)
#   BENCH_SMALL_DB=<kept> BENCH_LARGE_DB=<kept> scripts/bench/scaling.sh   # measure again, no seeding
#   BENCH_SMALL=1000 BENCH_LARGE=5000 BENCH_REPEAT=5 BENCH_BIN=<binary> scripts/bench/scaling.sh  # smoke run
#
# How it measures: both servers run at once (each on its database, idle when not asked). For each
# read kind, 5 warm-up requests go to each server, then BENCH_REPEAT requests per server, in
# BENCH_ROUNDS rounds that alternate small and large (and which of them goes first), so that load
# from other processes on the machine falls on both scales alike. Requests are sequential (one
# client), from curl over one keep-alive connection per round; the time is curl's time_total of
# each request (the first request of each round, which opens the connection, is not counted).
# Reads that vary in the mix (the producer, the operator, the auditor's province, the id) go
# through the same deterministic sequence at both scales: producers and ids spread over the
# whole seeded range. All reads are by the Chongqing regulator (cq-regulator, the mix's first
# producer's regulator), the nationwide ones by the auditor; get-by-id reads Chongqing's seeded
# applications (every fourth id: the mix reads each with its own source regulator).
#
# Settings (environment, all optional; of the BENCH_ settings of scripts/bench/mix.sh these apply:
# BENCH_PG_URL, BENCH_MANIFESTS, BENCH_AUDIT, BENCH_POOL_SIZE, BENCH_BIN, BENCH_COMMIT):
#   BENCH_SMALL          applications seeded in the small database   20000
#   BENCH_LARGE          applications seeded in the large database   200000
#   BENCH_SMALL_DB       reuse this (kept) database as the small one: no seeding
#   BENCH_LARGE_DB       reuse this (kept) database as the large one: no seeding
#   BENCH_KEEP_DB        1: keep the databases this run creates (their names are printed)
#   BENCH_REPEAT         measured requests per read kind and scale   50
#   BENCH_WARMUP_REQUESTS  warm-up requests per read kind and scale  5
#   BENCH_ROUNDS         rounds the measured requests are split into  5
#   BENCH_TARGET         the ratio large/small of the p50 that is "over target"   1.5
#   BENCH_SWEEP_SECS     HWT_SWEEP_INTERVAL_SECS of the servers      3600 (no sweep mid-measurement)
#
# Exit status 0 when every read was measured, whatever the ratios (a measurement, not a gate); 1
# when something failed to run (seeding, a server, a read answered other than 200).
# Needs psql, curl, jq (and cargo without BENCH_BIN); missing tools are installed with apt-get
# when running as root. Changes no tracked file.
set -euo pipefail
# Its synthetic admins and regulators sign in with a password alone (no second factor enrolled).
export HWT_SECOND_FACTOR=${HWT_SECOND_FACTOR:-enrolled}
# The settings and functions of mix.sh: mix_binary, pg_ensure_running, mix_database, mix_world,
# start_server, stop_pid, background_cores, tok, sql, log, die.
MIX_LIB=1 source "$(dirname "$0")/mix.sh"

SMALL=${BENCH_SMALL:-20000}
LARGE=${BENCH_LARGE:-200000}
REPEAT=${BENCH_REPEAT:-50}
WARM=${BENCH_WARMUP_REQUESTS:-5}
ROUNDS=${BENCH_ROUNDS:-5}
TARGET=${BENCH_TARGET:-1.5}
SWEEP_SECS=${BENCH_SWEEP_SECS:-3600}
KEEP_DB=${BENCH_KEEP_DB:-0}
[ "$REPEAT" -ge 1 ] && [ "$ROUNDS" -ge 1 ] || die "BENCH_REPEAT and BENCH_ROUNDS must be at least 1"
CHUNK=$(((REPEAT + ROUNDS - 1) / ROUNDS))
LABELS=(small large)
declare -A WANT=([small]=$SMALL [large]=$LARGE) REUSE_DB=([small]=${BENCH_SMALL_DB:-} [large]=${BENCH_LARGE_DB:-})
# Per scale: database, seeded applications, seeded enterprises, seconds of generation, tokens.
declare -A DBS=() SEEDED_N=() ENT_N=() GEN_S=() TOKENS=()
CREATED_DBS=()
FAILURES=()

# Read kinds: name, whether the mix sends it, and its request path (the index j picks the variant).
KINDS=(
    queue:side=source queue:side=receiving queue:overdue=true queue:status=submitted queue:all queue:status=approved
    queue:all-deep queue:approved-deep
    history:status=approved history:code history:from+to history:producer+totals history:operator
    history:auditor get:seeded history:seeded-operator ui:queue-counts ui:dashboard
)
PROVINCES=(500000 510000 520000 530000)
OPERATORS=(demo-operator-sc demo-operator-gz-1) # cq-producer's operators in mix.sh
# The values of mix.sh's config for mix.lua.
CODE=900-249-08
HISTORY_FROM=2025-03-01
HISTORY_TO=2025-04-01

# The request path of read kind $1 at scale $2, variant $3.
path_of() {
    local kind=$1 lb=$2 j=$3 k
    case $kind in
        queue:side=source) echo "/api/v1/transfer-applications?side=source&limit=20" ;;
        queue:side=receiving) echo "/api/v1/transfer-applications?side=receiving&limit=20" ;;
        queue:overdue=true) echo "/api/v1/transfer-applications?overdue=true&limit=20" ;;
        queue:status=submitted) echo "/api/v1/transfer-applications?status=submitted&limit=20" ;;
        queue:all) echo "/api/v1/transfer-applications?limit=20" ;;
        queue:status=approved) echo "/api/v1/transfer-applications?status=approved&limit=20" ;;
        queue:all-deep | queue:approved-deep)
            # A page deep in the province's archive: the cursor of a closed seeded case (no due
            # instant), at a depth spread over the whole seeded range as get:seeded's ids are.
            k=$((SEEDED_N[$lb] / 4))
            printf '/api/v1/transfer-applications?limit=20%s&cursor=-~scale-%010d\n' \
                "$([ "$kind" = queue:approved-deep ] && echo '&status=approved')" $((4 * (1 + (j * 7919) % k)))
            ;;
        history:status=approved) echo "/api/v1/transfers?status=approved&totals=false&limit=50" ;;
        history:code) echo "/api/v1/transfers?code=$CODE&totals=false&limit=50" ;;
        history:from+to) echo "/api/v1/transfers?from=$HISTORY_FROM&to=$HISTORY_TO&totals=false&limit=50" ;;
        history:producer+totals)
            # A seeded producer of Chongqing (scale-ent-i with i % 4 = 0), spread over all of them.
            k=$(((ENT_N[$lb] + 3) / 4))
            printf '/api/v1/transfers?producer=scale-ent-%06d&limit=50\n' $((4 * (j % k)))
            ;;
        history:operator) echo "/api/v1/transfers?operator=${OPERATORS[j % 2]}&totals=false&limit=50" ;;
        history:seeded-operator)
            # Not in the mix: the mix's operators are demo ones, whose history holds only demo
            # applications; a seeded operator's grows with the data (scale-op-0000 … 0049).
            printf '/api/v1/transfers?operator=scale-op-%04d&totals=false&limit=50\n' $((j % 50))
            ;;
        history:auditor) echo "/api/v1/transfers?source_province=${PROVINCES[j % 4]}&status=approved&limit=50" ;;
        get:seeded)
            # scale-n with n % 4 = 0 (source Chongqing), a spread permutation of the seeded range.
            k=$((SEEDED_N[$lb] / 4))
            printf '/api/v1/transfer-applications/scale-%010d\n' $((4 * (1 + (j * 7919) % k) ))
            ;;
        ui:queue-counts) echo "/ui/queue/counts" ;;
        ui:dashboard) echo "/ui/dashboard" ;;
        *) die "unknown read kind $kind" ;;
    esac
}

in_mix() { case $1 in ui:*) echo "no (web UI)" ;; history:seeded-operator) echo "no (a seeded operator)" ;; queue:all | queue:status=approved) echo "no (the province's list without side)" ;; queue:*-deep) echo "no (a deep page of that list)" ;; *) echo yes ;; esac; }
slug() { tr -c 'A-Za-z0-9\n' '_' <<<"$1"; }

scaling_tools() {
    local missing=() tool
    for tool in jq:jq psql:postgresql-client pg_isready:postgresql-client curl:curl; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        [ "$(id -u)" = 0 ] || die "missing tools (packages: ${missing[*]})"
        log "installing ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Seeds (or reuses) the database of one scale with mix.sh's functions, which work on the globals
# SCALE, DB, DB_URL, REUSE; then the demo world and tokens of that database.
prepare_scale() {
    local lb=$1
    SCALE=${WANT[$lb]}
    if [ -n "${REUSE_DB[$lb]}" ]; then DB=${REUSE_DB[$lb]}; REUSE=1; else
        DB="hwt_bench_scaling_${lb}_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
        REUSE=0
        CREATED_DBS+=("$DB") # before CREATE DATABASE: a failure after it still drops it
    fi
    DB_URL="$PG_URL/$DB"
    mix_database
    mix_world
    DBS[$lb]=$DB
    SEEDED_N[$lb]=$SEEDED
    ENT_N[$lb]=$((N_ENT > 0 ? N_ENT : 1))
    GEN_S[$lb]=${GEN_SECONDS:-reused}
    [ "$SEEDED" -ge 4 ] || die "$DB holds $SEEDED seeded applications (scale-…): too few"
    TOKENS[$lb:cq]=$(tok cq-regulator)
    TOKENS[$lb:auditor]=$(tok bench-auditor)
}

# A web UI session of cq-regulator (demo password) on the server of one scale: cookie jar $TMP/<scale>.jar.
ui_login() {
    local lb=$1 base="http://${SERVER_ADDRS[$1]}" jar="$TMP/$1.jar" csrf code
    csrf=$(curl -sS -c "$jar" "$base/ui/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
    [ -n "$csrf" ] || die "no CSRF field on $base/ui/login"
    code=$(curl -sS -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" "$base/ui/login" \
        --data-urlencode username=cq-regulator --data-urlencode password=demo-pass-2026 --data-urlencode "csrf=$csrf")
    [ "$code" = 303 ] || die "web UI sign-in of cq-regulator on the $lb server answered $code, not 303"
    # Signed in: the counts fragment is answered without a redirect to the sign-in page.
    if curl -sS -D - -o /dev/null -b "$jar" -H 'HX-Request: true' "$base/ui/queue/counts" | grep -qi '^hx-redirect\|^location'; then
        die "the web UI session of the $lb server is not accepted"
    fi
}

# Sends read kind $1 to the server of scale $2, variants $3 … $3+$4-1, in order over one
# connection; appends "<status> <seconds>" per request to $5. An extra first request (variant $3
# again) opens the connection and is not written.
run_chunk() {
    local kind=$1 lb=$2 from=$3 count=$4 out=$5 base="http://${SERVER_ADDRS[$2]}" cfg="$TMP/curl.cfg" j
    local auth=()
    {
        for j in "$from" $(seq "$from" $((from + count - 1))); do
            printf 'url = "%s%s"\noutput = "/dev/null"\n' "$base" "$(path_of "$kind" "$lb" "$j")"
        done
    } >"$cfg"
    case $kind in
        ui:queue-counts) auth=(-b "$TMP/$lb.jar" -H 'HX-Request: true') ;; # as htmx polls it
        ui:*) auth=(-b "$TMP/$lb.jar") ;;
        history:auditor) auth=(-H "Authorization: Bearer ${TOKENS[$lb:auditor]}") ;;
        *) auth=(-H "Authorization: Bearer ${TOKENS[$lb:cq]}") ;;
    esac
    curl -sS --max-time 120 -K "$cfg" "${auth[@]}" -w '%{http_code} %{time_total}\n' | tail -n +2 >>"$out" ||
        FAILURES+=("$kind at $lb: curl failed")
}

# "p50 p95" in ms (nearest rank) of the seconds in column 2 of $1.
percentiles() {
    awk '{print $2 * 1000}' "$1" | sort -n | awk '{v[NR] = $1}
        END {
            if (NR == 0) { print "- -"; exit }
            i50 = int(NR * 0.50); if (i50 < NR * 0.50) i50++; if (i50 < 1) i50 = 1
            i95 = int(NR * 0.95); if (i95 < NR * 0.95) i95++; if (i95 < 1) i95 = 1
            printf "%.2f %.2f\n", v[i50], v[i95]
        }'
}

# Everything answered 200? Otherwise one failure line with the statuses seen.
check_codes() {
    local kind=$1 lb=$2 file=$3 bad
    bad=$(awk '$1 != 200 {n[$1]++} END {for (c in n) printf "%s×%d ", c, n[c]}' "$file")
    [ -z "$bad" ] || FAILURES+=("$kind at $lb: answered $bad(not 200)")
}

# =============================================================================================
scaling_tools
TMP=$(mktemp -d -t hwtransfer-scaling.XXXXXX)
cleanup() {
    local rc=$? p d
    for p in "${SERVER_PIDS[@]}"; do stop_pid "$p"; done
    for d in ${CREATED_DBS[@]+"${CREATED_DBS[@]}"}; do
        if [ "$KEEP_DB" = 1 ]; then echo "database kept: $d" >&2; else
            psql "$PG_URL/postgres" -qXc "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1 ||
                echo "warning: could not drop database $d" >&2
        fi
    done
    if [ "$rc" != 0 ]; then
        for p in "${LABELS[@]}"; do
            [ -s "$TMP/$p.err" ] && { echo "--- last lines of the $p server's log ---" >&2; tail -8 "$TMP/$p.err" >&2; }
        done
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mix_binary
pg_ensure_running
export HWT_DATA_DIR="$TMP/data" # one set of signing keys for both servers and every token
export HWT_ACCESS_TOKEN_TTL_SECS=14400
mkdir -p "$HWT_DATA_DIR"
for lb in "${LABELS[@]}"; do prepare_scale "$lb"; done

for lb in "${LABELS[@]}"; do
    log "$lb server on ${DBS[$lb]} (pool $POOL, sweeper every ${SWEEP_SECS}s)"
    start_server "$lb" HWT_POOL_SIZE="$POOL" HWT_SWEEP_INTERVAL_SECS="$SWEEP_SECS" HWT_UI_IDLE_MINUTES=480 \
        HWT_DATABASE_URL="$PG_URL/${DBS[$lb]}?application_name=hwt-scaling-$lb"
    ui_login "$lb"
done

BG_BEFORE=$(background_cores)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)
for kind in "${KINDS[@]}"; do
    s=$(slug "$kind")
    log "$kind: $WARM warm-up and $REPEAT measured requests per scale, $ROUNDS rounds"
    for lb in "${LABELS[@]}"; do
        : >"$TMP/$lb.$s.warm"
        : >"$TMP/$lb.$s.times"
        if [ "$WARM" -gt 0 ]; then run_chunk "$kind" "$lb" 0 "$WARM" "$TMP/$lb.$s.warm"; fi
        check_codes "$kind" "$lb" "$TMP/$lb.$s.warm"
    done
    measured=0
    round=0
    while [ "$measured" -lt "$REPEAT" ]; do
        n=$((REPEAT - measured < CHUNK ? REPEAT - measured : CHUNK))
        # Alternate which scale goes first.
        if [ $((round % 2)) = 0 ]; then order=(small large); else order=(large small); fi
        for lb in "${order[@]}"; do run_chunk "$kind" "$lb" $((WARM + measured)) "$n" "$TMP/$lb.$s.times"; done
        measured=$((measured + n))
        round=$((round + 1))
    done
    for lb in "${LABELS[@]}"; do check_codes "$kind" "$lb" "$TMP/$lb.$s.times"; done
    echo "$kind: small p50/p95 $(percentiles "$TMP/small.$s.times" | tr ' ' /) ms, large $(percentiles "$TMP/large.$s.times" | tr ' ' /) ms" >&2
done
MEASURE_SECS=$(($(date +%s) - T0))
BG_AFTER=$(background_cores)

# --- report ----------------------------------------------------------------------------------
db_line() {
    local lb=$1
    DB_URL="$PG_URL/${DBS[$lb]}"
    echo "$lb: database ${DBS[$lb]}, ${SEEDED_N[$lb]} seeded applications ($([ "${GEN_S[$lb]}" = reused ] && echo "reused" || echo "generated in ${GEN_S[$lb]}s")), $(sql "SELECT count(*) FROM transfer_applications") applications in all, ${ENT_N[$lb]} seeded producer(s), $(sql "SELECT pg_size_pretty(pg_database_size(current_database()))")"
}
fmt_n() { sed ':a;s/\B[0-9]\{3\}\>/ &/;ta' <<<"$1"; } # 200000 → 200 000
cat <<EOF

Reads against the archive — $(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT
machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), PostgreSQL $PG_VERSION
$(db_line small)
$(db_line large)
one client, sequential requests: per read kind and scale $WARM warm-up + $REPEAT measured requests in $ROUNDS rounds alternating the scales; ${MEASURE_SECS}s in all
background load (nothing of ours running): $BG_BEFORE cores before, $BG_AFTER after; load average before: $LOAD_BEFORE

| read | in the mix | $(fmt_n "${SEEDED_N[small]}"): p50 ms | p95 ms | $(fmt_n "${SEEDED_N[large]}"): p50 ms | p95 ms | p50 large / small | |
|---|---|---:|---:|---:|---:|---:|---|
EOF
WITHIN=0
ALL=0
for kind in "${KINDS[@]}"; do
    s=$(slug "$kind")
    read -r s50 s95 < <(percentiles "$TMP/small.$s.times")
    read -r l50 l95 < <(percentiles "$TMP/large.$s.times")
    if grep -qF "$kind at " <<<"$(printf '%s\n' ${FAILURES[@]+"${FAILURES[@]}"})"; then
        ratio="-"; mark="FAILED"
    else
        ALL=$((ALL + 1))
        ratio=$(awk -v a="$l50" -v b="$s50" 'BEGIN{if (b <= 0) print "-"; else printf "%.2f", a / b}')
        if awk -v r="$ratio" -v t="$TARGET" 'BEGIN{exit !(r != "-" && r + 0 > t + 0)}'; then mark="over target"; else
            mark=""
            WITHIN=$((WITHIN + 1))
        fi
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$kind" "$(in_mix "$kind")" "$s50" "$s95" "$l50" "$l95" "$ratio" "$mark"
done
if awk -v a="$BG_BEFORE" -v b="$BG_AFTER" 'BEGIN{exit !(a > 0.2 || b > 0.2)}'; then
    echo
    echo "WARNING: other processes kept $BG_BEFORE / $BG_AFTER cores busy before / after: these figures are disturbed."
fi
if [ ${#FAILURES[@]} -gt 0 ]; then
    echo
    printf 'FAILED: %s\n' "${FAILURES[@]}"
fi
echo
echo "$WITHIN of $ALL reads within ${TARGET}× (p50 at $(fmt_n "${SEEDED_N[large]}") against $(fmt_n "${SEEDED_N[small]}") applications)"
[ ${#FAILURES[@]} = 0 ] || exit 1
