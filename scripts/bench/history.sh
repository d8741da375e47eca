#!/usr/bin/env bash
# Benchmark: one page of the transfer history (and of the audit search) per documented filter,
# and the CSV export, on PostgreSQL holding `hwtransfer seed --scale N` data. See
# docs/BENCHMARKS.md.
#
#   scripts/bench/history.sh                 # N = 100000 (the issue's full size is 1000000)
#   BENCH_SCALE=1000000 scripts/bench/history.sh
#
# Settings (environment, all optional):
#   BENCH_PG_URL       server URL without a database            postgres://postgres@127.0.0.1:5432
#   BENCH_SCALE        synthetic applications                    100000
#   BENCH_MANIFESTS    manifests per approved application        15   (70 % are approved)
#   BENCH_AUDIT        audit records per application             20
#   BENCH_DURATION     seconds of load per filter                10
#   BENCH_CONNECTIONS  concurrent clients                        4
#   BENCH_KEEP_DB      1: keep the database afterwards (its name is printed)
#   BENCH_DB           reuse this database (kept from an earlier run) instead of generating
#
# Needs: cargo, wrk, psql, curl, jq (installed with apt-get when missing and running as root).
set -euo pipefail
# Its synthetic admins and regulators sign in with a password alone (no second factor enrolled).
export HWT_SECOND_FACTOR=${HWT_SECOND_FACTOR:-enrolled}
cd "$(dirname "$0")/../.."

PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
SCALE=${BENCH_SCALE:-100000}
MANIFESTS=${BENCH_MANIFESTS:-15}
AUDIT=${BENCH_AUDIT:-20}
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-4}
KEEP_DB=${BENCH_KEEP_DB:-0}
PORT=18089

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

missing=()
for tool in wrk:wrk jq:jq psql:postgresql-client curl:curl; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing tools (packages: ${missing[*]})"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

TMP=$(mktemp -d -t hwt-hist.XXXXXX)
REUSE=0
if [ -n "${BENCH_DB:-}" ]; then DB=$BENCH_DB; REUSE=1; KEEP_DB=1; else
    DB="hwt_bench_hist_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
fi
DB_URL="$PG_URL/$DB"
SERVER_PID=""
cleanup() {
    local rc=$?
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    sleep 1
    if [ "$KEEP_DB" = 1 ]; then echo "database kept: $DB" >&2; else
        psql "$PG_URL/postgres" -qXc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT

log "build"
cargo build --release --quiet
BIN="${CARGO_TARGET_DIR:-target}/release/hwtransfer"
export HWT_DATABASE_URL="$DB_URL" HWT_DATA_DIR="$TMP/data" HWT_LOG=warn HWT_LISTEN="127.0.0.1:$PORT" HWT_POOL_SIZE=8 HWT_RATE_LIMIT_PER_SEC=0
GEN_START=$(date +%s.%N)
if [ "$REUSE" = 1 ]; then
    log "reuse database $DB"
    "$BIN" migrate >/dev/null
    psql "$DB_URL" -qXc "ANALYZE" >/dev/null
else
    psql "$PG_URL/postgres" -qXc "CREATE DATABASE \"$DB\"" >/dev/null
    log "generate: $SCALE applications, $MANIFESTS manifests per approval, $AUDIT audit records each"
    "$BIN" migrate >/dev/null
    "$BIN" seed --scale "$SCALE" --manifests-per-approval "$MANIFESTS" --audit-per-application "$AUDIT" | tee "$TMP/gen.json" >&2
    "$BIN" user add --username bench-auditor --password bench-pass-2026 --role auditor >/dev/null
fi
GEN_END=$(date +%s.%N)
psql "$DB_URL" -qXAtc "SELECT 'rows: applications ' || (SELECT count(*) FROM transfer_applications) || ', manifests ' || (SELECT count(*) FROM manifests) || ', audit ' || (SELECT count(*) FROM audit_log) || ', database ' || pg_size_pretty(pg_database_size(current_database()))" >&2

"$BIN" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
TOKEN=$("$BIN" token --user bench-auditor)

cat >"$TMP/p95.lua" <<'EOF'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.1f %.1f %.1f %d\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
EOF

# One page (limit 50) per documented filter. Totals are a separate row: they sum the whole
# filtered result and are returned on the first page unless totals=false.
YEAR=2025
FILTERS=(
    "transfers?totals=false"
    "transfers?producer=scale-ent-000007&totals=false"
    "transfers?operator=scale-op-0007&totals=false"
    "transfers?source_province=510000&totals=false"
    "transfers?receiving_province=530000&totals=false"
    "transfers?code=900-041-49&totals=false"
    "transfers?category=HW08&totals=false"
    "transfers?status=refused&totals=false"
    "transfers?from=$YEAR-03-01&to=$YEAR-04-01&totals=false"
    "transfers?source_province=500000&code=900-249-08&status=approved&totals=false"
    "transfers"
    "transfers?producer=scale-ent-000007"
    "transfers?source_province=510000&status=refused"
    "audit/events?object=scale-0000004242"
    "audit/events?actor=scale-user-0042"
    "audit/events?from=$YEAR-06-01&to=$YEAR-06-02"
)
printf '\n%-78s %9s %8s %8s %8s %6s\n' "GET /api/v1/…" "requests" "p50 ms" "p95 ms" "p99 ms" "errors"
for f in "${FILTERS[@]}"; do
    code=$(curl -s -o "$TMP/one.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/$f")
    [ "$code" = 200 ] || die "$f answered $code: $(head -c 300 "$TMP/one.json")"
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$TMP/p95.lua" -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$PORT/api/v1/$f" | awk '/^RESULT/{print $2, $3, $4, $5, $6}')
    read -r n p50 p95 p99 errs <<<"$out"
    printf '%-78s %9s %8s %8s %8s %6s\n' "$f" "$n" "$p50" "$p95" "$p99" "$errs"
done

log "CSV export of every transfer"
RSS_BEFORE=$(awk '/VmRSS/{print $2}' "/proc/$SERVER_PID/status")
START=$(date +%s.%N)
curl -sf -H "Authorization: Bearer $TOKEN" -H "Accept: text/csv" "http://127.0.0.1:$PORT/api/v1/transfers" -o "$TMP/all.csv" &
CURL=$!
PEAK=$RSS_BEFORE
while kill -0 $CURL 2>/dev/null; do
    r=$(awk '/VmRSS/{print $2}' "/proc/$SERVER_PID/status"); [ "$r" -gt "$PEAK" ] && PEAK=$r; sleep 0.2
done
wait $CURL
END=$(date +%s.%N)
ROWS=$(($(wc -l <"$TMP/all.csv") - 1))
awk -v r="$ROWS" -v s="$START" -v e="$END" -v b="$(stat -c %s "$TMP/all.csv")" -v p="$PEAK" -v r0="$RSS_BEFORE" \
    'BEGIN{printf "CSV: %d rows, %.1f MB in %.1f s = %.0f rows/s; server RSS %d MiB before, peak %d MiB\n", r, b/1e6, e-s, r/(e-s), r0/1024, p/1024}'
[ "$REUSE" = 1 ] || awk -v s="$GEN_START" -v e="$GEN_END" 'BEGIN{printf "generation: %.0f s\n", e-s}'
echo "commit: $(git rev-parse --short HEAD), cores: $(nproc)"
