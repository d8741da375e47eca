#!/usr/bin/env bash
# The values one whitelist-route filing binds, read back from a filing the service stored, as
# `name=value` lines: the pgbench variables of scripts/bench/sql/{checkout,filing-tx,response}.sql
# (filings.sh passes each as -D name=value) and the names scripts/bench/filing_sql.py gives the
# values of a captured statement list (capture-filing-sql.sh writes them into its header).
#
#   scripts/bench/filing-vars.sh DB_URL IDEMPOTENCY_KEY
set -euo pipefail
[ $# = 2 ] || {
    echo "usage: $0 DB_URL IDEMPOTENCY_KEY" >&2
    exit 2
}
DB_URL=$1
KEY=${2//\'/\'\'}
# One row, one value per line (no value holds a newline).
psql "$DB_URL" -AtXq -v ON_ERROR_STOP=1 -R $'\n' -F $'\n' -c "
    SELECT 'ent=' || a.enterprise_id, 'op=' || a.operator_id, 'src=' || a.source_province,
           'dst=' || a.receiving_province, 'division=' || a.source_division,
           'src_like=%,' || a.source_province || ',%',
           'owners={' || a.enterprise_id || ',' || a.operator_id || ',' || a.source_province || ',' || a.receiving_province || '}',
           'audience=,enterprise:' || a.enterprise_id || ',operator:' || a.operator_id || ',province:' || a.source_province || ',province:' || a.receiving_province || ',',
           'today=' || a.received_on, 'year=' || substr(a.received_on, 1, 4),
           'year_start=' || substr(a.received_on, 1, 4) || '-01-01', 'year_end=' || substr(a.received_on, 1, 4) || '-12-31',
           'edition=' || a.catalogue_edition, 'code=' || i.waste_code, 'code_like=' || i.waste_code || '%',
           'codes={' || i.waste_code || '}', 'scopes={' || i.waste_code || ',' || i.category || '}',
           'category=' || i.category, 'entry=' || i.entry_id, 'entry_version=' || i.entry_version,
           'grams=' || i.quantity_g, 'filed_by=' || a.filed_by, 'actor=' || u.id,
           'consent=' || a.receiving_consent, 'method=' || a.method, 'period_start=' || a.period_start,
           'period_end=' || a.period_end, 'carriers=' || a.carriers, 'request_hash=' || a.request_hash,
           'waste_name=' || i.waste_name, 'physical_form=' || i.physical_form, 'hazards=' || i.hazards,
           'packaging=' || i.packaging, 'due_on=' || s.due_on, 'due_at=' || s.due_at
    FROM transfer_applications a
    JOIN application_items i ON i.application_id = a.id AND i.line = 0
    JOIN application_steps s ON s.application_id = a.id AND s.kind = 'acceptance'
    JOIN users u ON u.username = a.filed_by
    WHERE a.idempotency_key = '$KEY'" | grep .
