#!/usr/bin/env bash
# Captures the SQL one whitelist-route filing sends to PostgreSQL, statement for statement, from
# the server's statement log. scripts/bench/filing_sql.py turns the capture into the pgbench
# scripts (scripts/bench/sql/{checkout,filing-tx,response}.sql); check-filing-sql.sh compares a
# fresh capture with them. See docs/BENCHMARKS.md.
#
#   scripts/bench/capture-filing-sql.sh [OUT]      OUT: the statement list (default: stdout)
#
# The world is filings.sh's: a scratch database, `migrate`, `seed --demo`, cq-producer's token,
# the same body on the seeded confirmed HW08 entry. The database gets `log_statement = 'all'`
# (ALTER DATABASE: only its own sessions log), the server files a few warm-up filings (caches and
# prepared statements as under load), then exactly one filing bracketed by two marker statements
# sent through psql; the capture is every statement of the scratch database's server sessions
# logged between the markers.
#
# OUT holds one statement per line in the order logged, each under a `-- backend PID` comment when
# the backend changes, its bind parameters on the next line as logged (`-- parameters: $1 = '…'`);
# its header names the world's values (`-- var name=value`, from filing-vars.sh).
#
# Settings (environment, all optional):
#   BENCH_BIN          the service binary            target/release/hwtransfer (no build here)
#   BENCH_PG_URL       server URL without a database postgres://postgres@127.0.0.1:5432
#   BENCH_PG_LOG       the cluster's log file        /var/log/postgresql/postgresql-<major>-main.log
#   BENCH_POOL_SIZE    HWT_POOL_SIZE of the server   32
#   BENCH_QUANTITY_KG  kilograms per filing          1
#   CAPTURE_WARMUP     warm-up filings               5
#   CAPTURE_RAW        also write the raw log lines of the capture (scratch database only) here
#
# Needs: psql, curl, jq, read access to the cluster's log (root or group adm). When the cluster's
# log_line_prefix has no %d the script sets one with it (ALTER SYSTEM + reload) and restores the
# old setting on exit.
set -euo pipefail
export HWT_SECOND_FACTOR=${HWT_SECOND_FACTOR:-enrolled}

cd "$(dirname "$0")/../.."
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/hwtransfer}
POOL=${BENCH_POOL_SIZE:-32}
QTY_KG=${BENCH_QUANTITY_KG:-1}
WARMUP=${CAPTURE_WARMUP:-5}
OUT=${1:-/dev/stdout}

die() {
    printf 'capture-filing-sql: %s\n' "$*" >&2
    exit 1
}
[ -x "$BIN" ] || die "no binary at $BIN (build it, or set BENCH_BIN)"
for tool in psql curl jq; do command -v "$tool" >/dev/null || die "missing $tool"; done

TMP=$(mktemp -d -t hwt-capture.XXXXXX)
DB="hwt_capture_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
DB_URL="$PG_URL/$DB"
SERVER_PID=""
DB_CREATED=0
PREFIX_CHANGED=0
OLD_PREFIX_AUTO="" # the log_line_prefix line of postgresql.auto.conf before, if any

admin() { psql "$PG_URL/postgres" -AtXq -v ON_ERROR_STOP=1 -c "$1"; }
sql() { psql "$DB_URL" -AtXq -v ON_ERROR_STOP=1 -c "$1"; }

cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$DB_CREATED" = 1 ]; then
        admin "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" 2>/dev/null || echo "warning: could not drop database $DB" >&2
    fi
    if [ "$PREFIX_CHANGED" = 1 ]; then
        if [ -n "$OLD_PREFIX_AUTO" ]; then
            admin "ALTER SYSTEM SET log_line_prefix = $OLD_PREFIX_AUTO" || echo "warning: could not restore log_line_prefix" >&2
        else
            admin "ALTER SYSTEM RESET log_line_prefix" || echo "warning: could not reset log_line_prefix" >&2
        fi
        admin "SELECT pg_reload_conf()" >/dev/null || true
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_isready -d "$PG_URL/postgres" -q || die "PostgreSQL is not answering at $PG_URL"
MAJOR=$(admin "SHOW server_version_num" | cut -c1-2)
LOG=${BENCH_PG_LOG:-$(admin "SELECT pg_current_logfile()")}
[ -n "$LOG" ] || LOG=/var/log/postgresql/postgresql-$MAJOR-main.log
[ -r "$LOG" ] || die "cannot read the cluster's log $LOG (set BENCH_PG_LOG)"

# The prefix must name the database (%d) and the backend (%p): the capture keeps the scratch
# database's lines only, whoever else writes to the log meanwhile.
PREFIX=$(admin "SHOW log_line_prefix")
if [[ "$PREFIX" != *%d* || "$PREFIX" != *%p* ]]; then
    OLD_PREFIX_AUTO=$(admin "SELECT quote_literal(setting) FROM pg_file_settings
                             WHERE name = 'log_line_prefix' AND sourcefile LIKE '%postgresql.auto.conf' AND applied")
    PREFIX_CHANGED=1
    admin "ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%u@%d '"
    admin "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
    PREFIX=$(admin "SHOW log_line_prefix")
    echo "log_line_prefix set to '$PREFIX' for the capture (restored on exit)" >&2
fi

# --- the world: as filings.sh sets it up ------------------------------------------------------
admin "CREATE DATABASE \"$DB\""
DB_CREATED=1
export HWT_DATABASE_URL="$DB_URL"
export HWT_DATA_DIR="$TMP/data"
mkdir -p "$HWT_DATA_DIR"
export HWT_LOG=warn
"$BIN" migrate >/dev/null 2>&1 || die "migrate failed"
"$BIN" seed --demo >/dev/null 2>&1 || die "seed --demo failed"

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
BODY=$(jq -cn --arg op "$OP" --arg start "$TODAY" --arg until "$PERIOD_END" --arg code "$CODE" --arg kg "$QTY_KG" '{
  operator_id: $op, method: "dispose", period_start: $start, period_end: $until,
  items: [{waste_code: $code, waste_name: "废矿物油", physical_form: "液态", hazards: ["T", "I"],
           packaging: "200 L 铁桶", quantity_kg: $kg}],
  carriers: [{name: "重庆危运物流有限公司", permit_number: "渝交运管危字500000001号", plate: "渝A12345"}]}')

# Only this database's sessions log every statement; set before the server opens its pool.
sql "ALTER DATABASE \"$DB\" SET log_statement = 'all'"
sql "ALTER DATABASE \"$DB\" SET log_min_duration_statement = -1"

# --- the server: filings.sh's settings -------------------------------------------------------
# No background jobs (sweeper, webhook delivery): they would write to the log between the markers
# and are no part of a request. filings.sh runs the delivery job; its polls are not per request.
HWT_LISTEN=127.0.0.1:0 HWT_RATE_LIMIT_PER_SEC=0 HWT_SWEEP_INTERVAL_SECS=0 HWT_WEBHOOK_INTERVAL_MS=0 \
    HWT_POOL_SIZE="$POOL" "$BIN" serve >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
ADDR=""
for _ in $(seq 1 150); do
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
TOKEN=$("$BIN" token --user cq-producer 2>/dev/null)

RUN=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
file_one() { # idempotency key → writes $TMP/answer.json, prints the status
    curl -sS -o "$TMP/answer.json" -w '%{http_code}' -X POST "$BASE/api/v1/transfer-applications" \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -H "Idempotency-Key: $1" -d "$BODY"
}
for i in $(seq 1 "$WARMUP"); do
    code=$(file_one "bench-capture-warmup-$RUN-$i")
    [ "$code" = 201 ] || die "warm-up filing answered $code: $(head -c 600 "$TMP/answer.json")"
done

# --- the one filing, between two markers -------------------------------------------------------
START_MARK="hwt-capture-start-$RUN"
END_MARK="hwt-capture-end-$RUN"
sql "SELECT '$START_MARK'" >/dev/null
code=$(file_one "bench-capture-$RUN")
sql "SELECT '$END_MARK'" >/dev/null
[ "$code" = 201 ] || die "captured filing answered $code: $(head -c 600 "$TMP/answer.json")"
[ "$(jq -r .route "$TMP/answer.json")" = whitelist ] || die "captured filing took route $(jq -r .route "$TMP/answer.json")"

# The end marker is written once psql's statement ran; wait until the log shows it.
for _ in $(seq 1 50); do
    grep -q -- "$END_MARK" "$LOG" && break
    sleep 0.1
done
grep -q -- "$END_MARK" "$LOG" || die "end marker not found in $LOG"
# The world's values as the captured filing stored them (after the end marker: not captured).
scripts/bench/filing-vars.sh "$DB_URL" "bench-capture-$RUN" >"$TMP/vars" || die "filing-vars.sh failed"

# --- the log, parsed ---------------------------------------------------------------------------
# A log entry starts with the prefix; continuation lines (multi-line statements) start with a tab.
# Kept: entries of this database from the start marker to the end marker, minus the markers'
# own sessions.
python3 - "$LOG" "$DB" "$PREFIX" "$START_MARK" "$END_MARK" "$OUT" "${CAPTURE_RAW:-}" "$TMP/vars" <<'PY'
import re, sys
log, db, prefix, start, end, out, raw_out, vars_file = sys.argv[1:9]
# The prefix as a regex: %m timestamp, %p pid, %u user, %d database, %q nothing; others: anything.
parts = {"%m": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+", "%t": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+",
         "%p": r"(?P<pid>\d+)", "%u": r"(?P<user>[^@\s]*)", "%d": r"(?P<db>[^\s]*)", "%q": "", "%%": "%"}
rx = ""
i = 0
while i < len(prefix):
    tok = prefix[i:i + 2]
    if tok in parts:
        rx += parts[tok]; i += 2
    elif tok.startswith("%"):
        rx += r".*?"; i += 2
    else:
        rx += re.escape(prefix[i]); i += 1
line_rx = re.compile("^" + rx + r"(?P<level>[A-Z]+):  (?P<msg>.*)$")

entries = []  # [pid, level, text]
with open(log, encoding="utf-8", errors="replace") as f:
    cur = None
    for line in f:
        line = line.rstrip("\n")
        m = line_rx.match(line)
        if m:
            cur = None
            if m.group("db") == db:
                cur = [m.group("pid"), m.group("level"), m.group("msg")]
                entries.append(cur)
        elif cur is not None and line.startswith("\t"):
            cur[2] += "\n" + line[1:]
        else:
            cur = None

def is_mark(e, mark):
    return e[1] == "LOG" and e[2].startswith("statement: ") and mark in e[2]
si = max(i for i, e in enumerate(entries) if is_mark(e, start))
ei = max(i for i, e in enumerate(entries) if is_mark(e, end))
mark_pids = {entries[si][0], entries[ei][0]}
span = [e for e in entries[si + 1:ei] if e[0] not in mark_pids]
if raw_out:
    with open(raw_out, "w") as f:
        for e in span:
            f.write(f"[{e[0]}] {e[1]}:  {e[2]}\n")

stmt_rx = re.compile(r"^(?:statement|execute [^:]+): (?P<sql>.*)$", re.S)
lines = [f"-- captured: one whitelist-route filing, database {db}; statements in log order"]
with open(vars_file, encoding="utf-8") as f:
    lines += ["-- var " + v.rstrip("\n") for v in f if v.strip()]
last_pid = None
n = 0
for pid, level, msg in span:
    if level == "LOG":
        m = stmt_rx.match(msg)
        if not m:
            continue
        if pid != last_pid:
            lines.append(f"-- backend {pid}")
            last_pid = pid
        lines.append(" ".join(m.group("sql").split("\n")).rstrip().rstrip(";") + ";")
        n += 1
    elif level == "DETAIL" and msg.startswith("parameters: ") and pid == last_pid:
        lines.append("-- " + msg.replace("\n", " "))
    elif level in ("ERROR", "FATAL", "PANIC"):
        sys.exit(f"capture: the server's session logged {level}: {msg}")
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"captured {n} statements", file=sys.stderr)
PY
