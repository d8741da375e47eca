#!/usr/bin/env bash
# Property-based API testing with schemathesis (PyPI) against openapi/openapi.json: a release
# build serves the demo data on a fresh SQLite file, and every operation is fuzzed with a valid
# token of each role. Fails on any 5xx and on any response outside the schema.
#
#   scripts/fuzz/schemathesis.sh                 # 25 examples per operation and role
#   ST_EXAMPLES=200 scripts/fuzz/schemathesis.sh
#
# Settings: ST_CHECKS (all), ST_EXCLUDE (none), ST_EXAMPLES (25), ST_ROLES ("admin cq-regulator sc-regulator auditor cq-producer
# sc-operator"), ST_PORT (18100), ST_BIN (a binary already built, e.g. target/debug/hwtransfer as
# .ci/run uses; by default a release build is made). Needs python3 with venv; schemathesis is
# installed into target/schemathesis-venv on first use.
set -euo pipefail
cd "$(dirname "$0")/../.."

EXAMPLES=${ST_EXAMPLES:-25}
ROLES=${ST_ROLES:-"admin cq-regulator sc-regulator auditor cq-producer sc-operator"}
PORT=${ST_PORT:-18100}
VENV=${ST_VENV:-target/schemathesis-venv}

if [ ! -x "$VENV/bin/schemathesis" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'schemathesis>=4.3,<5'
fi
BIN=${ST_BIN:-}
if [ -z "$BIN" ]; then
    cargo build --release --quiet
    BIN=target/release/hwtransfer
fi
TMP=$(mktemp -d -t hwt-st.XXXXXX)
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# Fuzzing the token endpoint makes hundreds of failed logins from one address: raise the
# throttle so the role tokens below can still be issued.
HWT_DATA_DIR="$TMP/data" HWT_DATABASE_URL="sqlite://$TMP/data/st.db" HWT_LISTEN="127.0.0.1:$PORT" HWT_RATE_LIMIT_PER_SEC=0 \
    HWT_LOG=warn HWT_LOGIN_MAX_FAILURES=100 HWT_LOGIN_LOCKOUT_SECS=1 HWT_WEBHOOK_INTERVAL_MS=0 HWT_FEED_MAX_WAIT_SECS=1 \
    "$BIN" serve --demo >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.2; done

token() {
    curl -sf -X POST "$BASE/api/v1/auth/token" -H 'content-type: application/json' \
        -d "{\"username\":\"$1\",\"password\":\"demo-pass-2026\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

status=0
for role in $ROLES; do
    printf '\n== %s\n' "$role"
    tok=$(token "$role")
    if ! "$VENV/bin/schemathesis" --config-file scripts/fuzz/schemathesis.toml run openapi/openapi.json -u "$BASE" -H "Authorization: Bearer $tok" \
        -n "$EXAMPLES" --checks "${ST_CHECKS:-all}" ${ST_EXCLUDE:+--exclude-checks "$ST_EXCLUDE"} \
        --phases examples,coverage,fuzzing --suppress-health-check all --no-color \
        --exclude-path-regex '/attachments$' >"$TMP/$role.log" 2>&1; then
        status=1
        sed -n '/FAILURES/,$p' "$TMP/$role.log" | head -200
    fi
    grep -E "generated|passed|failed" "$TMP/$role.log" | tail -2
done
if grep -q "panicked" "$TMP/server.log"; then
    echo "the server panicked:"; grep -A5 panicked "$TMP/server.log" | head -40; status=1
fi
exit $status
