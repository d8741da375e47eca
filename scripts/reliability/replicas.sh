#!/usr/bin/env bash
# Scale-out and faults: two release replicas on one PostgreSQL database share the mix of
# scripts/bench/mix.lua (one wrk per replica). Mid-mix the replica holding the background-job
# lease is killed with SIGKILL; the script measures how long the other takes to hold it, and checks
# that the survivor's sweeper works. The survivor keeps serving its share. Then PostgreSQL is
# stopped and started again under a slow stream of requests: answers while it is away must be
# 503 problem+json with Retry-After, and the replica must recover by itself. After each phase:
# every acknowledged write is present, the invariants of scripts/bench/sql/invariants.sql hold
# (no half-applied transition, quota, ledger, numbering) and the audit chain verifies.
# See docs/RELIABILITY.md.
#
#   scripts/reliability/replicas.sh                                  # seeds 100 000 applications
#   BENCH_DB=<kept database> scripts/reliability/replicas.sh         # on a kept (1 M) database
#
# Settings (environment, all optional; the BENCH_ ones of scripts/bench/mix.sh apply too:
# BENCH_PG_URL, BENCH_SCALE, BENCH_DB, BENCH_KEEP_DB, BENCH_BIN, BENCH_POOL_SIZE):
#   REL_DURATION      seconds of mix on the two replicas           120
#   REL_KILL_AT       seconds into the mix when the lease holder is killed   40
#   REL_CONNECTIONS   wrk connections per replica                  8
#   REL_LEASE_SECS    HWT_JOB_LEASE_SECS of both replicas           5
#   REL_SWEEP_SECS    HWT_SWEEP_INTERVAL_SECS of both replicas      2
#   REL_PG_RESTART    0: skip the PostgreSQL phase                  1
#   REL_OUTAGE_SECS   seconds PostgreSQL stays stopped (0: `pg_ctlcluster … restart`)   8
#                     (longer than the replicas' HWT_POOL_TIMEOUT_SECS, 5 s: a request waits that
#                     long for a connection before it is answered 503, so a shorter outage shows
#                     only the requests whose connection broke)
#
# The PostgreSQL phase stops the local cluster (pg_ctlcluster … stop -m fast) that other users of
# the machine share; a trap starts it again on any exit. Exit status 1 when a check failed.
set -euo pipefail
# Its synthetic admins and regulators sign in with a password alone (no second factor enrolled).
export HWT_SECOND_FACTOR=${HWT_SECOND_FACTOR:-enrolled}
MIX_LIB=1 source "$(dirname "$0")/../bench/mix.sh"

DURATION=${REL_DURATION:-120}
KILL_AT=${REL_KILL_AT:-40}
RCONNS=${REL_CONNECTIONS:-8}
LEASE_SECS=${REL_LEASE_SECS:-5}
RSWEEP_SECS=${REL_SWEEP_SECS:-2}
PG_RESTART=${REL_PG_RESTART:-1}
OUTAGE_SECS=${REL_OUTAGE_SECS:-8}
PG_CLUSTER_VERSION=$(ls /etc/postgresql 2>/dev/null | head -1)
# The sweeper's advisory lock key (src/jobs/mod.rs, "HWTSWEE").
SWEEP_LOCK_KEY=$((0x0048575453574545))

mix_tools
TMP=$(mktemp -d -t hwtransfer-replicas.XXXXXX)
declare -A WRKS=()
WATCH_PID=""
STREAM_PIDS=()
cleanup() {
    local rc=$?
    local p
    for p in "${WRKS[@]}"; do stop_pid "$p"; done
    for p in ${STREAM_PIDS[@]+"${STREAM_PIDS[@]}"}; do pkill -P "$p" 2>/dev/null || true; stop_pid "$p"; done
    stop_pid "$WATCH_PID"
    for p in "${SERVER_PIDS[@]}"; do stop_pid "$p"; done
    # Never leave the shared PostgreSQL down.
    if ! pg_isready -d "$PG_URL/postgres" -q 2>/dev/null; then
        echo "starting PostgreSQL again" >&2
        pg_ctlcluster --skip-systemctl-redirect "$PG_CLUSTER_VERSION" main start >&2 || true
        for _ in $(seq 1 30); do pg_isready -d "$PG_URL/postgres" -q && break; sleep 1; done
    fi
    if [ "$DB_CREATED" = 1 ] || [ "$REUSE" = 1 ]; then
        if [ "$KEEP_DB" = 1 ]; then echo "database kept: $DB" >&2; else
            psql "$PG_URL/postgres" -qXc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 ||
                echo "warning: could not drop database $DB" >&2
        fi
    fi
    if [ "$rc" != 0 ]; then
        for p in a b; do
            [ -f "$TMP/$p.err" ] && { echo "--- last lines of replica $p ---" >&2; tail -8 "$TMP/$p.err" >&2; }
        done
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_s() { date +%s.%N; }
secs() { if [ "$1" = never ]; then echo never; else echo "${1}s"; fi; }
since() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }

mix_binary
pg_ensure_running
export HWT_DATA_DIR="$TMP/data" # both replicas: the same signing keys
export HWT_ACCESS_TOKEN_TTL_SECS=$((DURATION + 3600))
mkdir -p "$HWT_DATA_DIR"
mix_database
mix_world

RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
ACK_DIR="$TMP/acks"
mkdir -p "$ACK_DIR"
write_config "$TMP/a.lua" "$RUN_ID-a" "$TMP/a.txt" "$ACK_DIR"
write_config "$TMP/b.lua" "$RUN_ID-b" "$TMP/b.txt" "$ACK_DIR"

# --- two replicas ----------------------------------------------------------------------------
replica() { # name
    start_server "$1" HWT_POOL_SIZE="$POOL" HWT_JOB_LEASE_SECS="$LEASE_SECS" HWT_SWEEP_INTERVAL_SECS="$RSWEEP_SECS" \
        HWT_WEBHOOK_INTERVAL_MS=500 HWT_DATABASE_URL="$DB_URL?application_name=hwt-replica-$1"
}
UTC_NOW="(now() AT TIME ZONE 'UTC')"
lease_holder() { # name → holder of an unexpired lease, or nothing
    sql "SELECT holder FROM job_leases WHERE name = '$1' AND expires_at > $UTC_NOW"
}
wait_holder() { # name, seconds → the holder
    local h=""
    for _ in $(seq 1 $(($2 * 10))); do
        h=$(lease_holder "$1")
        [ -n "$h" ] && break
        sleep 0.1
    done
    echo "$h"
}

# No replica runs yet: leases left by an earlier run on this database (a server stopped within
# its lease) are cleared, so the first holder seen below is replica a.
sql "UPDATE job_leases SET expires_at = '1970-01-01 00:00:00'" >/dev/null
log "replica a (lease ${LEASE_SECS}s, sweeper every ${RSWEEP_SECS}s, pool $POOL)"
replica a
# Leases in job_leases. The webhook delivery job takes its lease; a sweeper lease, if this build
# has one, is any other row. Started alone, replica a is the first holder of each.
LEASES=$(sql "SELECT string_agg(name, ' ' ORDER BY name) FROM job_leases")
declare -A HOLDER_A=()
for l in $LEASES; do
    HOLDER_A[$l]=$(wait_holder "$l" $((LEASE_SECS + 10)))
    [ -n "${HOLDER_A[$l]}" ] || check_failed "replica a never took the lease '$l'"
done
SWEEP_LEASE=$(tr ' ' '\n' <<<"$LEASES" | grep -i sweep | head -1 || true)
JOB_LEASE=${SWEEP_LEASE:-webhook_delivery}
echo "leases: $LEASES; the one that picks the victim: $JOB_LEASE$([ -z "$SWEEP_LEASE" ] && echo " (no sweeper lease in job_leases: the sweeper takes a PostgreSQL advisory lock per run)" || true)" >&2
log "replica b"
replica b
A_ADDR=${SERVER_ADDRS[a]}
B_ADDR=${SERVER_ADDRS[b]}
probe_checks "http://$A_ADDR"
probe_checks "http://$B_ADDR"

# One psql session samples, four times a second: each lease's holder, who holds the sweeper's
# advisory lock (by the replicas' application_name) and each replica's connections.
cat >"$TMP/watch.sql" <<EOF
SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'HH24:MI:SS.MS'),
  (SELECT string_agg(name || '=' || CASE WHEN expires_at > $UTC_NOW THEN holder ELSE 'expired' END, ',' ORDER BY name) FROM job_leases),
  coalesce((SELECT string_agg(a.application_name, ',') FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = $SWEEP_LOCK_KEY), '-'),
  (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hwt-replica-a'),
  (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hwt-replica-b')
\watch 0.25
EOF
psql "$DB_URL" -AtX -F ' ' -f "$TMP/watch.sql" >"$TMP/watch.log" 2>/dev/null &
WATCH_PID=$!

# An open decision step made overdue by hand (its due instant moved into the past): the sweeper
# must flag it, once. The step is one of a demo case, else of a case an earlier run left open:
# never one this run's wrk threads work on. Prints the seconds until it was flagged (or "never"),
# the step and the number of escalations the audit trail holds for it.
plant_overdue() {
    local step t0 n
    step=$(sql "SELECT s.id FROM application_steps s JOIN transfer_applications a ON a.id = s.application_id
                WHERE s.completed_at IS NULL AND s.overdue_at IS NULL AND s.kind <> 'acceptance'
                  AND a.id NOT LIKE 'scale-%' AND coalesce(a.idempotency_key, '') NOT LIKE 'mix-$RUN_ID-%'
                  AND NOT EXISTS (SELECT 1 FROM clock_suspensions c WHERE c.step_id = s.id AND c.resumed_on IS NULL)
                ORDER BY coalesce(a.idempotency_key, '') LIKE 'mix-%', s.id LIMIT 1")
    [ -n "$step" ] || { echo "never none 0"; return; }
    t0=$(now_s)
    sql "UPDATE application_steps SET due_at = $UTC_NOW - interval '1 minute' WHERE id = '$step'" >/dev/null
    for _ in $(seq 1 $((RSWEEP_SECS * 20 + 300))); do
        if [ -n "$(sql "SELECT 1 FROM application_steps WHERE id = '$step' AND overdue_at IS NOT NULL")" ]; then
            sleep 1 # a second sweeper, if any, would flag it in the same round
            n=$(sql "SELECT count(*) FROM audit_log WHERE object_id = '$step' AND action = 'overdue'")
            echo "$(since "$t0" "$(now_s)") $step $n"
            return
        fi
        sleep 0.1
    done
    echo "never $step 0"
}

# --- the mix on both, and the kill -----------------------------------------------------------
log "mix: ${DURATION}s, $RCONNS connections on each replica; kill -9 of the lease holder at ${KILL_AT}s"
MIX_T0=$(now_s)
start_wrk "$DURATION" "$TMP/a.lua" "http://$A_ADDR" "$RCONNS"
WRKS[a]=$LAST_WRK
start_wrk "$DURATION" "$TMP/b.lua" "http://$B_ADDR" "$RCONNS"
WRKS[b]=$LAST_WRK

sleep $((KILL_AT / 2))
read -r SWEPT_BEFORE STEP_BEFORE EVENTS_BEFORE < <(plant_overdue)
echo "with both replicas up: a planted overdue step was flagged after $(secs "$SWEPT_BEFORE") ($EVENTS_BEFORE escalation record(s))" >&2
while [ "$(since "$MIX_T0" "$(now_s)" | cut -d. -f1)" -lt "$KILL_AT" ]; do sleep 0.2; done

HOLDER_NOW=$(lease_holder "$JOB_LEASE")
if [ -n "$HOLDER_NOW" ] && [ "$HOLDER_NOW" = "${HOLDER_A[$JOB_LEASE]:-}" ]; then VICTIM=a; SURVIVOR=b; else VICTIM=b; SURVIVOR=a; fi
[ -n "$HOLDER_NOW" ] || echo "warning: nobody holds '$JOB_LEASE' at the kill; killing b" >&2
VICTIM_PID=${SERVER_PIDS[$VICTIM]}
SURVIVOR_PID=${SERVER_PIDS[$SURVIVOR]}
SURVIVOR_ADDR=${SERVER_ADDRS[$SURVIVOR]}
EXPIRES_LEFT=$(sql "SELECT round(extract(epoch FROM expires_at - $UTC_NOW)::numeric, 2) FROM job_leases WHERE name = '$JOB_LEASE'")
log "kill -9 replica $VICTIM (pid $VICTIM_PID, holds '$JOB_LEASE' for ${EXPIRES_LEFT}s more)"
KILL_T=$(now_s)
KILL_CLOCK=$(date -u +%H:%M:%S.%3N)
kill -9 "$VICTIM_PID"
kill -INT "${WRKS[$VICTIM]}" 2>/dev/null || true # its load stops; its summary and acks stay
wait "${WRKS[$VICTIM]}" 2>/dev/null || true
unset "WRKS[$VICTIM]"
unset "SERVER_PIDS[$VICTIM]"

# Takeover: another holder with an unexpired lease.
TAKEOVER=never
for _ in $(seq 1 $(((LEASE_SECS + 30) * 10))); do
    h=$(lease_holder "$JOB_LEASE")
    if [ -n "$h" ] && [ "$h" != "$HOLDER_NOW" ]; then TAKEOVER=$(since "$KILL_T" "$(now_s)"); break; fi
    sleep 0.1
done
[ "$TAKEOVER" != never ] || check_failed "nobody took the lease '$JOB_LEASE' over within $((LEASE_SECS + 30))s of the kill"
echo "lease '$JOB_LEASE' taken over by replica $SURVIVOR $(secs "$TAKEOVER") after the kill" >&2
read -r SWEPT_AFTER STEP_AFTER EVENTS_AFTER < <(plant_overdue)
SWEPT_AFTER_KILL=$(since "$KILL_T" "$(now_s)")
[ "$SWEPT_AFTER" != never ] || check_failed "the survivor's sweeper did not flag a planted overdue step"
[ "${EVENTS_BEFORE:-1}" -le 1 ] && [ "${EVENTS_AFTER:-1}" -le 1 ] ||
    check_failed "a planted overdue step was escalated more than once ($EVENTS_BEFORE, $EVENTS_AFTER events)"
echo "after the kill: a planted overdue step was flagged $(secs "$SWEPT_AFTER") after planting (${SWEPT_AFTER_KILL}s after the kill)" >&2

wait "${WRKS[$SURVIVOR]}" || check_failed "wrk on replica $SURVIVOR failed"
unset "WRKS[$SURVIVOR]"
stop_pid "$WATCH_PID"
WATCH_PID=""
kill -0 "$SURVIVOR_PID" 2>/dev/null || check_failed "replica $SURVIVOR died"

log "checks after the kill"
settle_writes
check_acks "$ACK_DIR"
ACKS_1=$ACKS
ACK_SUMMARY_1=$ACK_SUMMARY
check_invariants
INV_1="$INVARIANTS_OK of $INVARIANTS_ALL"
check_audit
AUDIT_1="$([ "$AUDIT_OK" = 1 ] && echo ok || echo FAILED): $AUDIT_LINE"
for r in a b; do
    [ -s "$TMP/$r.txt" ] || continue
    e=$(val "$TMP/$r.txt" errors)
    if [ "$r" = "$SURVIVOR" ]; then
        [ "$e" = 0 ] || check_failed "replica $r: $e error answers under the mix"
        [ "$(val "$TMP/$r.txt" socket_errors)" = 0 ] || check_failed "replica $r: socket errors $(val "$TMP/$r.txt" socket_detail)"
    fi
done
# Sweeper lock holders and lease holders seen by the sampler.
ADVISORY_SEEN=$(awk '$3 != "-" {n[$3]++} END{for (k in n) printf "%s %d, ", k, n[k]}' "$TMP/watch.log" | sed 's/, $//')
ADVISORY_BOTH=$(awk '$3 ~ /,/' "$TMP/watch.log" | wc -l)
[ "$ADVISORY_BOTH" = 0 ] || check_failed "the sweeper's lock was seen held by two sessions at once ($ADVISORY_BOTH samples)"
PEAK_CONNS_A=$(awk 'BEGIN{m=0} $4>m{m=$4} END{print m}' "$TMP/watch.log")
PEAK_CONNS_B=$(awk 'BEGIN{m=0} $5>m{m=$5} END{print m}' "$TMP/watch.log")
# Holder changes of the leases while both replicas were up (there should be none: the holder renews
# every HWT_WEBHOOK_INTERVAL_MS) and after the kill.
LEASE_CHANGES_BEFORE=$(awk -v k="$KILL_CLOCK" '$1 < k {print $2}' "$TMP/watch.log" | grep -v expired | uniq | awk 'END{print (NR > 0 ? NR - 1 : 0)}')
LEASE_CHANGES_AFTER=$(awk -v k="$KILL_CLOCK" '$1 >= k {print $2}' "$TMP/watch.log" | grep -v expired | uniq | awk 'END{print (NR > 0 ? NR - 1 : 0)}')

# --- PostgreSQL away and back ----------------------------------------------------------------
PG_SUMMARY="skipped (REL_PG_RESTART=0)"
if [ "$PG_RESTART" = 1 ]; then
    log "PostgreSQL restart under a slow stream of requests on replica $SURVIVOR"
    BASE="http://$SURVIVOR_ADDR"
    REG=$(tok cq-regulator)
    ENT=$(tok cq-producer)
    BODY=$(jq -cn --arg s "$TODAY" --arg e "$PERIOD_END" '{operator_id: "demo-operator-sc", method: "dispose",
        period_start: $s, period_end: $e, items: [{waste_code: "900-249-08", waste_name: "废矿物油",
        physical_form: "液态", hazards: ["T"], packaging: "桶", quantity_kg: "1"}],
        carriers: [{name: "危运物流有限公司", permit_number: "交运管危字000000001号", plate: "渝A12345"}]}')
    # One loop per kind, each sending its next request when the last is answered (every 0.2 s
    # at most). One line per answer: epoch seconds at the answer, kind, status, content type,
    # Retry-After, seconds the answer took.
    stream() { # kind
        local kind=$1 i=0 key="rel-pg-$RUN_ID-0" out code ra body="$TMP/stream-$1.body" hdr="$TMP/stream-$1.h"
        local args=()
        while :; do
            i=$((i + 1))
            case $kind in
            queue) args=(-H "Authorization: Bearer $REG" "$BASE/api/v1/transfer-applications?side=source&limit=5") ;;
            file) args=(-X POST -H "Authorization: Bearer $ENT" -H 'Content-Type: application/json' -H "Idempotency-Key: $key"
                -d "$BODY" "$BASE/api/v1/transfer-applications") ;;
            readyz) args=("$BASE/readyz") ;;
            esac
            : >"$hdr"
            out=$(curl -s -o "$body" --max-time 15 -w '%{http_code} %{content_type} %{time_total}' -D "$hdr" "${args[@]}" || true)
            read -r code ct took <<<"$out"
            ra=$(tr -d '\r' <"$hdr" | awk -F': ' 'tolower($1)=="retry-after"{print $2}')
            echo "$(now_s) $kind ${code:-000} ${ct:--} ${ra:--} ${took:-0}" >>"$TMP/stream.log"
            if [ "$kind" = file ] && [ "$code" = 201 ]; then
                # Acknowledged: logged like mix.lua's writes; the next filing gets a new key. A
                # filing not answered 201 is sent again with the same key.
                printf 'file %s %s %s\n' "$(jq -r .id "$body")" "$(jq -r .version "$body")" "$key" >>"$ACK_DIR/ack-stream.log"
                key="rel-pg-$RUN_ID-$i"
            fi
            sleep 0.2
        done
    }
    : >"$TMP/stream.log"
    STREAM_PIDS=()
    for kind in queue file readyz; do
        stream "$kind" &
        STREAM_PIDS+=($!)
    done
    sleep 3
    DOWN_T=$(now_s)
    if [ "$OUTAGE_SECS" = 0 ]; then
        pg_ctlcluster --skip-systemctl-redirect -m fast "$PG_CLUSTER_VERSION" main restart >&2
        START_T=$DOWN_T
        for _ in $(seq 1 600); do pg_isready -d "$PG_URL/postgres" -q && break; sleep 0.05; done
        UP_T=$(now_s)
    else
        pg_ctlcluster --skip-systemctl-redirect -m fast "$PG_CLUSTER_VERSION" main stop >&2
        STOPPED_T=$(now_s)
        sleep "$OUTAGE_SECS"
        # "Ready" is when PostgreSQL first accepts connections, polled while the start command runs
        # (which returns some time later).
        START_T=$(now_s)
        pg_ctlcluster --skip-systemctl-redirect "$PG_CLUSTER_VERSION" main start >&2 &
        START_PID=$!
        for _ in $(seq 1 600); do pg_isready -d "$PG_URL/postgres" -q && break; sleep 0.05; done
        UP_T=$(now_s)
        wait "$START_PID" || check_failed "pg_ctlcluster start failed"
    fi
    # Until every kind has answered 2xx five times in a row after PostgreSQL is back (or 60 s).
    for _ in $(seq 1 300); do
        ok=$(awk -v up="$UP_T" '$1 > up {if ($3 ~ /^2/) run[$2]++; else run[$2] = 0} END{print (run["queue"] >= 5 && run["file"] >= 5 && run["readyz"] >= 5)}' "$TMP/stream.log")
        [ "$ok" = 1 ] && break
        sleep 0.2
    done
    for p in "${STREAM_PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; stop_pid "$p"; wait "$p" 2>/dev/null || true; done
    STREAM_PIDS=()
    kill -0 "$SURVIVOR_PID" 2>/dev/null || check_failed "replica $SURVIVOR exited during the PostgreSQL restart"

    # Answers from the stop until the first success after the start: only 503 problem+json
    # with Retry-After (readyz: 503). Then the time to recover.
    awk -v down="$DOWN_T" -v up="$UP_T" '
        $1 < down {next}
        { kind = $2; code = $3; ct = $4; ra = $5; took = $6 }
        code !~ /^2/ && !recovered[kind] {
            n503[kind] += (code == 503); total[kind]++
            if (took > slowest[kind]) slowest[kind] = took
            if (code != 503) bad[kind] = bad[kind] " " code
            else if (kind != "readyz" && (ct !~ /problem\+json/ || ra == "-")) bad[kind] = bad[kind] " 503-without-problem-or-Retry-After"
            if (!first_err[kind]) first_err[kind] = $1
            if (ra != "-") retry[kind] = ra
        }
        code ~ /^2/ && $1 > up && !recovered[kind] { recovered[kind] = $1 }
        END {
            for (k in total) printf "%s errors=%d 503=%d retry_after=%s first_error_after=%.2f slowest_error_answer=%.2fs bad=%s\n", k, total[k], n503[k], retry[k] ? retry[k] : "-", first_err[k] - down, slowest[k], bad[k] ? bad[k] : "none"
            for (k in recovered) printf "%s recovered_after_up=%.2f recovered_after_down=%.2f\n", k, recovered[k] - up, recovered[k] - down
        }' "$TMP/stream.log" | sort >"$TMP/outage.txt"
    cat "$TMP/outage.txt" >&2
    # Every answer around the outage: sent and answered, in seconds from the stop.
    awk -v down="$DOWN_T" -v up="$UP_T" '$1 >= down - 1 && $1 - $6 <= up + 2 {
        printf "  sent %+6.2f  answered %+6.2f  %-6s %s%s\n", $1 - $6 - down, $1 - down, $2, $3, ($5 == "-" ? "" : " Retry-After: " $5)
    }' "$TMP/stream.log" | sort -k2,2n >"$TMP/timeline.txt"
    STOPPED_AT=$(since "$DOWN_T" "${STOPPED_T:-$DOWN_T}")
    READY_AT=$(since "$DOWN_T" "$UP_T")
    if grep -E 'errors=' "$TMP/outage.txt" | grep -vq 'bad=none'; then
        check_failed "answers during the outage other than 503 problem+json with Retry-After: $(grep -v 'bad=none' "$TMP/outage.txt" | grep errors= | tr '\n' ';')"
    fi
    N503=$(awk '{for (i=1;i<=NF;i++) if ($i ~ /^503=/) {split($i, a, "="); s += a[2]}} END{print s+0}' "$TMP/outage.txt")
    [ "$N503" -gt 0 ] || echo "note: no 503 was seen (the outage fell between two requests)" >&2
    for k in queue file readyz; do
        grep -q "^$k recovered_after_up=" "$TMP/outage.txt" || check_failed "$k did not recover within 60 s of PostgreSQL's start"
    done
    REC_MAX=$(awk '/recovered_after_up=/{split($2, a, "="); if (a[2] > m) m = a[2]} END{printf "%.2f", m}' "$TMP/outage.txt")
    STREAM_N=$(wc -l <"$TMP/stream.log")
    PG_SUMMARY="PostgreSQL down $(since "$DOWN_T" "$UP_T")s (stop command → accepting connections); $N503 answers 503 during the outage; every kind answered 2xx again within ${REC_MAX}s of PostgreSQL accepting connections; $STREAM_N requests in the stream"

    log "checks after the PostgreSQL restart"
    settle_writes
    check_acks "$ACK_DIR"
    check_invariants
    check_audit
fi

# --- summary ---------------------------------------------------------------------------------
cat <<EOF

Replicas and faults — $(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT
machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), PostgreSQL $PG_VERSION
database $DB: $SEEDED seeded applications, $(sql "SELECT count(*) FROM transfer_applications") applications now
two replicas (pool $POOL each, HWT_JOB_LEASE_SECS=$LEASE_SECS, HWT_SWEEP_INTERVAL_SECS=$RSWEEP_SECS), $RCONNS wrk connections each, ${DURATION}s of mix; kill -9 at ${KILL_AT}s

| measure | value |
|---|---|
| leases in job_leases | $LEASES (the victim is the holder of '$JOB_LEASE') |
| killed | replica $VICTIM (held the lease, ${EXPIRES_LEFT}s left on it) |
| lease takeover by replica $SURVIVOR | $(secs "$TAKEOVER") after the kill |
| sweeper, both up: planted overdue step flagged | after $(secs "$SWEPT_BEFORE"), $EVENTS_BEFORE escalation record(s) in the audit trail |
| sweeper after the kill: planted overdue step flagged | $(secs "$SWEPT_AFTER") after planting, ${SWEPT_AFTER_KILL}s after the kill, $EVENTS_AFTER escalation record(s) |
| sweeper advisory lock seen held by (0.25 s samples) | ${ADVISORY_SEEN:-nobody in a sample}; by two at once: $ADVISORY_BOTH samples |
| lease holder changes seen (0.25 s samples): both up / after the kill | $LEASE_CHANGES_BEFORE / $LEASE_CHANGES_AFTER |
| peak backends of replica a / b (by application_name, parallel workers included) | $PEAK_CONNS_A / $PEAK_CONNS_B |
| acknowledged writes checked after the kill | $ACKS_1 ($ACK_SUMMARY_1) |
| invariants after the kill | $INV_1 hold |
| audit verify after the kill | $AUDIT_1 |
| PostgreSQL restart | $PG_SUMMARY |
| acknowledged writes after the restart | $ACKS ($ACK_SUMMARY) |
| invariants after the restart | $INVARIANTS_OK of $INVARIANTS_ALL hold |
| audit verify after the restart | $([ "$AUDIT_OK" = 1 ] && echo ok || echo FAILED): $AUDIT_LINE |

EOF
for r in a b; do
    [ -s "$TMP/$r.txt" ] || continue
    if [ "$r" = "$VICTIM" ]; then what="killed at ${KILL_AT}s"; else what="survivor, ${DURATION}s"; fi
    n=$(val "$TMP/$r.txt" answered)
    echo "Replica $r ($what): $(val "$TMP/$r.txt" rate) requests/s, $n answered, p50/p95/p99 $(val "$TMP/$r.txt" p50_ms)/$(val "$TMP/$r.txt" p95_ms)/$(val "$TMP/$r.txt" p99_ms) ms, errors $(val "$TMP/$r.txt" errors), conflicts $(val "$TMP/$r.txt" conflicts), socket errors $(val "$TMP/$r.txt" socket_detail)"
    echo
    print_kinds "$TMP/$r.txt" "$n" | grep -E '^\| (\*\*|kind)|^\|---' || true
    echo
done
if [ -s "$TMP/outage.txt" ]; then
    echo "PostgreSQL outage, per kind of request:"
    sed 's/^/  /' "$TMP/outage.txt"
    echo
    echo "Answers around the outage (seconds from the stop command; stopped at +$STOPPED_AT, start command at +$(since "$DOWN_T" "$START_T"), accepting connections again at +$READY_AT):"
    cat "$TMP/timeline.txt"
fi
end_with_checks
