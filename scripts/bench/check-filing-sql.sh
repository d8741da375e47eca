#!/usr/bin/env bash
# Fails when the SQL the service sends for one whitelist-route filing and the pgbench scripts of
# filings.sh part: captures a filing (capture-filing-sql.sh), normalizes both statement lists
# (filing_sql.py: parameters, literals, numbers and pgbench expressions become ?; one statement a
# line) and compares them. Exit 0 when they match; 1 with a unified diff when they part (then:
# capture, `filing_sql.py generate`, commit the scripts — docs/BENCHMARKS.md).
#
#   scripts/bench/check-filing-sql.sh [SQL_DIR]     SQL_DIR: scripts/bench/sql
#
# Settings: those of capture-filing-sql.sh (BENCH_BIN, BENCH_PG_URL, BENCH_PG_LOG, …);
# CHECK_CAPTURE=FILE compares an existing capture instead of making one.
set -euo pipefail
cd "$(dirname "$0")/../.."
SQL_DIR=${1:-scripts/bench/sql}
TMP=$(mktemp -d -t hwt-sqlcheck.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
CAPTURE=${CHECK_CAPTURE:-}
if [ -z "$CAPTURE" ]; then
    CAPTURE=$TMP/filing-statements.sql
    scripts/bench/capture-filing-sql.sh "$CAPTURE"
fi
GEN="python3 -B scripts/bench/filing_sql.py"
$GEN shape-capture "$CAPTURE" >"$TMP/service.shape"
# The whole request as filings.sh runs it: checkout, the transaction, the answer's reads.
$GEN shape-sql "$SQL_DIR/checkout.sql" "$SQL_DIR/filing-tx.sql" "$SQL_DIR/response.sql" >"$TMP/pgbench.shape"
tx() { awk '/^BEGIN$/{on=1} on{n++} /^COMMIT$/{on=0} END{print n+0}' "$1"; }
if diff -u --label "service (captured, $(wc -l <"$TMP/service.shape") statements)" \
    --label "pgbench ($SQL_DIR, $(wc -l <"$TMP/pgbench.shape") statements)" \
    "$TMP/service.shape" "$TMP/pgbench.shape" >"$TMP/diff"; then
    echo "filing SQL check: the pgbench scripts match the service ($(wc -l <"$TMP/service.shape") statements a request, $(tx "$TMP/service.shape") in the transaction)" >&2
else
    cat "$TMP/diff"
    echo "filing SQL check FAILED: the service's statements and the pgbench scripts part; capture and generate again (docs/BENCHMARKS.md)" >&2
    exit 1
fi
