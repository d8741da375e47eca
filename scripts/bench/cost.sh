#!/usr/bin/env bash
# What one read request costs: CPU of the server and of PostgreSQL per request, and database
# transactions (statements outside a transaction count one each) per request, for one or more
# binaries in turn, on a database the mix has seeded and kept. See docs/BENCHMARKS.md ("What a
# read costs").
#
#   BENCH_DB=<kept mix database> scripts/bench/cost.sh BIN [BIN ...]
#   BENCH_DB=… BENCH_ROUNDS=3 scripts/bench/cost.sh old-binary new-binary   # interleaved, 3 rounds
#   BENCH_DB=… BENCH_PATHS='"/api/v1/transfers?code=900-249-08&totals=false&limit=50"' scripts/bench/cost.sh BIN
#
# Each binary in turn serves the database (rate limit off, sweeper idle); wrk sends the paths in
# rotation as a regulator of Sichuan (510000) for 5 s of warm-up and BENCH_DURATION measured. The
# figures are deltas over the measured part: CPU time of the server process and of every
# `postgres` process of the machine (/proc, so run it on a quiet machine: nothing else of
# PostgreSQL's may be busy), and pg_stat_database's commits + rollbacks of the database. CPU per
# request is what a saturated machine divides its cores by; throughput alone moves with the
# machine's mood, the transaction count does not move at all.
#
# Settings (environment):
#   BENCH_DB           the kept database of `BENCH_KEEP_DB=1 scripts/bench/mix.sh` (required)
#   BENCH_PG_URL       server URL without a database      postgres://postgres@127.0.0.1:5432
#   BENCH_DURATION     seconds measured per binary        20
#   BENCH_CONNECTIONS  wrk connections                    4
#   BENCH_ROUNDS       rounds over the binaries           1
#   BENCH_PATHS        Lua list items of paths            a seeded case twice, a queue page, a history page
#
# Needs wrk, psql, curl, python3.
set -euo pipefail
export HWT_SECOND_FACTOR=${HWT_SECOND_FACTOR:-enrolled}

PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:?set BENCH_DB to a database the mix kept (BENCH_KEEP_DB=1 scripts/bench/mix.sh)}
DUR=${BENCH_DURATION:-20}
CONNS=${BENCH_CONNECTIONS:-4}
ROUNDS=${BENCH_ROUNDS:-1}
PATHS=${BENCH_PATHS:-'"/api/v1/transfer-applications/scale-0000000001", "/api/v1/transfer-applications?side=source&limit=20", "/api/v1/transfer-applications/scale-0000000005", "/api/v1/transfers?code=900-249-08&totals=false&limit=50"'}
[ $# -ge 1 ] || { echo "usage: BENCH_DB=… $0 BIN [BIN ...]" >&2; exit 2; }
for tool in wrk psql curl python3; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }; done

TMP=$(mktemp -d -t hwt-cost.XXXXXX)
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

export HWT_DATABASE_URL="$PG_URL/$DB" HWT_LOG=warn HWT_DATA_DIR="$TMP/data" HWT_RATE_LIMIT_PER_SEC=0
export HWT_ACCESS_TOKEN_TTL_SECS=3600
mkdir -p "$HWT_DATA_DIR"

pg_ticks() {
    local t=0 p f
    for p in $(pgrep -x postgres); do
        read -r -a f <"/proc/$p/stat" 2>/dev/null || continue
        t=$((t + f[13] + f[14]))
    done
    echo "$t"
}
server_ticks() { local f; read -r -a f <"/proc/$SERVER_PID/stat"; echo $((f[13] + f[14])); }
xacts() { psql "$PG_URL/postgres" -AtXq -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$DB'"; }

measure() { # binary
    local bin=$1 port addr token out p0 s0 x0 p1 s1 x1 n
    token=$("$bin" token --user sc-regulator)
    HWT_LISTEN=127.0.0.1:0 HWT_POOL_SIZE=16 HWT_SWEEP_INTERVAL_SECS=3600 "$bin" serve >"$TMP/out" 2>"$TMP/err" &
    SERVER_PID=$!
    addr=""
    for _ in $(seq 1 150); do
        addr=$(sed -n 's|^hwtransfer listening on http://\([0-9.:]*\).*|\1|p' "$TMP/out" | head -1)
        [ -n "$addr" ] && curl -fsS "http://$addr/readyz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    [ -n "$addr" ] || { echo "server did not start: $(tail -3 "$TMP/err")" >&2; exit 1; }
    cat >"$TMP/req.lua" <<LUA
local paths = { $PATHS }
local i = 0
request = function()
   i = i + 1
   return wrk.format("GET", paths[(i % #paths) + 1], { ["Authorization"] = "Bearer $token" })
end
LUA
    wrk -t"$CONNS" -c"$CONNS" -d5s -s "$TMP/req.lua" "http://$addr" >/dev/null
    p0=$(pg_ticks); s0=$(server_ticks); x0=$(xacts)
    out=$(wrk -t"$CONNS" -c"$CONNS" -d"${DUR}s" --latency -s "$TMP/req.lua" "http://$addr")
    p1=$(pg_ticks); s1=$(server_ticks); x1=$(xacts)
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
    n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
    grep -q "Non-2xx" <<<"$out" && { echo "some answers were not 200: $out" >&2; exit 1; }
    python3 - "$bin" "$n" "$DUR" $((p1 - p0)) $((s1 - s0)) $((x1 - x0)) "$(getconf CLK_TCK)" \
        "$(awk '$1=="50%"{print $2}' <<<"$out")" "$(awk '$1=="99%"{print $2}' <<<"$out")" <<'PY'
import sys
b, n, d, pg, srv, x, tck, p50, p99 = sys.argv[1:]
n, d, pg, srv, x, tck = int(n), int(d), int(pg), int(srv), int(x), int(tck)
print(f"| {b} | {n / d:.0f} | {pg / tck * 1000 / n:.3f} | {srv / tck * 1000 / n:.3f} | {x / n:.2f} | {p50} / {p99} |")
PY
}

echo "database $DB, $CONNS connections, ${DUR}s per binary, paths: $PATHS"
echo
echo "| binary | requests/s | PostgreSQL CPU ms/request | server CPU ms/request | transactions/request | p50 / p99 |"
echo "|---|---:|---:|---:|---:|---|"
for _ in $(seq 1 "$ROUNDS"); do
    for bin in "$@"; do measure "$bin"; done
done
