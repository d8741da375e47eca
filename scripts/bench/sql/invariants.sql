-- Invariants checked after a load or fault run (scripts/bench/mix.sh, scripts/reliability/replicas.sh).
-- One row per check: name | violations | a few offending keys. Every count must be 0.
-- The synthetic `seed --scale` rows (ids `scale-…`) carry no ledger and are left out where noted.
--
--   psql "$DB_URL" -AtX -F '|' -f scripts/bench/sql/invariants.sql

WITH ledger AS (
    SELECT entry_id,
        sum(amount_g) FILTER (WHERE movement = 'reserve') AS reserve,
        sum(amount_g) FILTER (WHERE movement = 'commit') AS commit_,
        sum(amount_g) FILTER (WHERE movement = 'release') AS release,
        sum(amount_g) FILTER (WHERE movement = 'release_approved') AS release_approved,
        sum(amount_g) FILTER (WHERE movement = 'ship') AS ship,
        sum(amount_g) FILTER (WHERE movement = 'return') AS return_,
        sum(amount_g) FILTER (WHERE movement = 'receive') AS receive
    FROM quota_ledger GROUP BY entry_id
),
entry_vs_ledger AS (
    SELECT e.id FROM whitelist_entries e LEFT JOIN ledger l ON l.entry_id = e.id
    WHERE e.reserved_g <> coalesce(l.reserve, 0) - coalesce(l.commit_, 0) - coalesce(l.release, 0)
       OR e.approved_g <> coalesce(l.commit_, 0) - coalesce(l.release_approved, 0)
       OR e.shipped_g <> coalesce(l.ship, 0) - coalesce(l.return_, 0)
       OR e.received_g <> coalesce(l.receive, 0)
)
SELECT 'quota: reserved_g + approved_g <= quota_g, none negative', count(*), coalesce(string_agg(id, ' ' ORDER BY id) FILTER (WHERE true), '')
FROM (SELECT id FROM whitelist_entries
      WHERE reserved_g + approved_g > quota_g OR reserved_g < 0 OR approved_g < 0 OR shipped_g < 0 OR received_g < 0
      LIMIT 5) x
UNION ALL
SELECT 'ledger: entry totals equal the sum of their quota_ledger movements', count(*), coalesce(string_agg(id, ' '), '')
FROM (SELECT id FROM entry_vs_ledger LIMIT 5) x;

-- Per application (whitelist route): what its ledger rows hold for it matches its state.
WITH per_app AS (
    SELECT application_id,
        coalesce(sum(amount_g) FILTER (WHERE movement = 'reserve'), 0)
          - coalesce(sum(amount_g) FILTER (WHERE movement = 'commit'), 0)
          - coalesce(sum(amount_g) FILTER (WHERE movement = 'release'), 0) AS held,
        coalesce(sum(amount_g) FILTER (WHERE movement = 'commit'), 0)
          - coalesce(sum(amount_g) FILTER (WHERE movement = 'release_approved'), 0) AS approved,
        coalesce(sum(amount_g) FILTER (WHERE movement = 'ship'), 0)
          - coalesce(sum(amount_g) FILTER (WHERE movement = 'return'), 0) AS shipped
    FROM quota_ledger WHERE application_id IS NOT NULL GROUP BY application_id
),
on_entries AS (
    SELECT a.id, a.status, a.shipped_g,
        sum(i.quantity_g) FILTER (WHERE i.entry_id IS NOT NULL) AS listed_g
    FROM transfer_applications a JOIN application_items i ON i.application_id = a.id
    WHERE a.id NOT LIKE 'scale-%' AND a.route = 'whitelist'
    GROUP BY a.id, a.status, a.shipped_g
),
bad AS (
    SELECT o.id FROM on_entries o LEFT JOIN per_app p ON p.application_id = o.id
    WHERE coalesce(p.held, 0) <> CASE WHEN o.status IN ('submitted', 'correction_requested', 'resubmitted', 'accepted', 'under_review')
                                    THEN coalesce(o.listed_g, 0) ELSE 0 END
       OR (o.status = 'approved' AND coalesce(p.approved, 0) <> coalesce(o.listed_g, 0))
       OR (o.status IN ('submitted', 'correction_requested', 'resubmitted', 'accepted', 'under_review', 'refused', 'withdrawn')
           AND coalesce(p.approved, 0) <> 0)
       OR (o.listed_g > 0 AND coalesce(p.shipped, 0) <> o.shipped_g)
)
SELECT 'ledger: each whitelist application holds, has approved and has shipped what its state says', count(*), coalesce(string_agg(id, ' '), '')
FROM (SELECT id FROM bad LIMIT 5) x
UNION ALL
SELECT 'ledger: no movements for standard-route applications', count(*), coalesce(string_agg(id, ' '), '')
FROM (SELECT DISTINCT a.id FROM transfer_applications a JOIN quota_ledger l ON l.application_id = a.id
      WHERE a.route <> 'whitelist' LIMIT 5) x;

-- Applications: no transition half-applied.
SELECT 'applications: approved ⇔ approval number, approval instant and validity', count(*), coalesce(string_agg(id, ' '), '')
FROM (SELECT id FROM transfer_applications
      WHERE id NOT LIKE 'scale-%'
        AND ((status IN ('approved', 'expired', 'revoked')) <> (approval_number IS NOT NULL AND approved_at IS NOT NULL AND valid_until IS NOT NULL))
      LIMIT 5) x
UNION ALL
SELECT 'applications: totals equal the sum of their items (quantity, shipped, received)', count(*), coalesce(string_agg(id, ' '), '')
FROM (SELECT a.id FROM transfer_applications a JOIN application_items i ON i.application_id = a.id
      WHERE a.id NOT LIKE 'scale-%'
      GROUP BY a.id, a.quantity_g, a.shipped_g, a.received_g
      HAVING a.quantity_g <> sum(i.quantity_g) OR a.shipped_g <> sum(i.shipped_g) OR a.received_g <> sum(i.received_g)
      LIMIT 5) x
UNION ALL
SELECT 'applications: every one has items and a filed event', count(*), coalesce(string_agg(id, ' '), '')
FROM (SELECT a.id FROM transfer_applications a
      WHERE a.id NOT LIKE 'scale-%'
        AND (NOT EXISTS (SELECT 1 FROM application_items i WHERE i.application_id = a.id)
             OR NOT EXISTS (SELECT 1 FROM application_events v WHERE v.application_id = a.id))
      LIMIT 5) x
UNION ALL
-- A case waiting on provinces has one open step per province it waits on (two while both decide
-- under a consent policy), a closed one none.
SELECT 'applications: a case waiting on a province has one open step per waiting province, a closed one none', count(*), coalesce(string_agg(id, ' '), '')
FROM (SELECT a.id FROM transfer_applications a
      LEFT JOIN (SELECT application_id, count(*) AS n, count(DISTINCT side) AS sides
                 FROM application_steps WHERE completed_at IS NULL GROUP BY application_id) o
             ON o.application_id = a.id
      WHERE a.id NOT LIKE 'scale-%'
        AND CASE WHEN a.status IN ('approved', 'refused', 'withdrawn', 'expired', 'revoked', 'not_accepted',
                                   'correction_requested')
                 THEN coalesce(o.n, 0) <> 0
                 ELSE coalesce(o.n, 0) NOT IN (1, 2) OR o.n <> o.sides END
      LIMIT 5) x;

-- The queue's bound: a case's next_due_at is its earliest open step's due instant, NULL when it has
-- none (the province queues and counts search only cases with one, db::applications::list).
SELECT 'applications: next_due_at is the earliest open step''s due instant, none when no step is open', count(*), coalesce(string_agg(id, ' '), '')
FROM (SELECT a.id FROM transfer_applications a
      LEFT JOIN (SELECT application_id, min(due_at) AS due
                 FROM application_steps WHERE completed_at IS NULL GROUP BY application_id) o
             ON o.application_id = a.id
      WHERE a.id NOT LIKE 'scale-%' AND a.next_due_at IS DISTINCT FROM o.due
      LIMIT 5) x
UNION ALL
SELECT 'applications: source_step_open and receiving_step_open say which sides have a step open', count(*), coalesce(string_agg(id, ' '), '')
FROM (SELECT a.id FROM transfer_applications a
      WHERE a.id NOT LIKE 'scale-%'
        AND (a.source_step_open <> EXISTS (SELECT 1 FROM application_steps s WHERE s.application_id = a.id
                                             AND s.completed_at IS NULL AND s.side = 'source')
             OR a.receiving_step_open <> EXISTS (SELECT 1 FROM application_steps s WHERE s.application_id = a.id
                                                   AND s.completed_at IS NULL AND s.side = 'receiving'))
      LIMIT 5) x;

-- Numbers.
SELECT 'approval numbers: unique', count(*), coalesce(string_agg(approval_number, ' '), '')
FROM (SELECT a.approval_number FROM transfer_applications a
      WHERE a.approval_number IS NOT NULL AND a.id NOT LIKE 'scale-%'
        AND EXISTS (SELECT 1 FROM transfer_applications b WHERE b.approval_number = a.approval_number AND b.id <> a.id)
      LIMIT 5) x
UNION ALL
SELECT 'approval numbers: gap-free per source province and year (1 … counter)', count(*), coalesce(string_agg(k, ' '), '')
FROM (SELECT c.source_province || '/' || c.year AS k
      FROM approval_counters c
      LEFT JOIN (SELECT source_province, substring(approval_number FROM '〔(\d{4})〕')::int AS year,
                        count(DISTINCT substring(approval_number FROM '〕(\d+)号')::int) AS n,
                        max(substring(approval_number FROM '〕(\d+)号')::int) AS top
                 FROM transfer_applications
                 WHERE approval_number LIKE '%危转〔%'
                 GROUP BY 1, 2) a ON a.source_province = c.source_province AND a.year = c.year
      WHERE coalesce(a.n, 0) <> c.last_seq OR coalesce(a.top, 0) <> c.last_seq
      LIMIT 5) x
UNION ALL
SELECT 'manifest numbers: unique, and year + city + 6-digit serial', count(*), coalesce(string_agg(number, ' '), '')
FROM (SELECT m.number FROM manifests m WHERE m.id NOT LIKE 'scale-m-%'
        AND (m.number <> m.year::text || m.source_city || lpad(m.serial::text, 6, '0')
             OR EXISTS (SELECT 1 FROM manifests o WHERE o.number = m.number AND o.id <> m.id))
      LIMIT 5) x
UNION ALL
SELECT 'manifest serials: gap-free per source city and year, up to the counter', count(*), coalesce(string_agg(k, ' '), '')
FROM (SELECT m.source_city || '/' || m.year AS k
      FROM manifests m JOIN manifest_counters c ON c.source_city = m.source_city AND c.year = m.year
      WHERE m.id NOT LIKE 'scale-m-%'
      GROUP BY m.source_city, m.year, c.last_serial
      HAVING count(DISTINCT m.serial) <> max(m.serial) - min(m.serial) + 1 OR max(m.serial) <> c.last_serial
      LIMIT 5) x
UNION ALL
SELECT 'manifests: each application line shipped what its live manifests carry', count(*), coalesce(string_agg(k, ' '), '')
FROM (SELECT i.application_id || '#' || i.line AS k
      FROM application_items i
      LEFT JOIN (SELECT mi.application_line, m.application_id, sum(mi.quantity_g) AS q
                 FROM manifests m JOIN manifest_items mi ON mi.manifest_id = m.id
                 WHERE m.status NOT IN ('rejected', 'cancelled') AND m.id NOT LIKE 'scale-m-%'
                 GROUP BY 1, 2) s ON s.application_id = i.application_id AND s.application_line = i.line
      WHERE i.application_id NOT LIKE 'scale-%' AND i.shipped_g <> coalesce(s.q, 0)
      LIMIT 5) x
UNION ALL
SELECT 'figures: the maintained totals (folded and appended) equal the cases, per pair, status and day', count(*), coalesce(string_agg(k, ' '), '')
FROM (SELECT coalesce(c.k, f.k) AS k
      FROM (SELECT source_province || '>' || receiving_province || '/' || status || '/' || (created_at + interval '8 hours')::date AS k,
                   count(*) AS n, sum(quantity_g) AS q, sum(shipped_g) AS s, sum(received_g) AS r
            FROM transfer_applications GROUP BY 1) c
      FULL JOIN (SELECT source_province || '>' || receiving_province || '/' || label || '/' || day AS k,
                        sum(n) AS n, sum(quantity_g) AS q, sum(shipped_g) AS s, sum(received_g) AS r
                 FROM transfer_figures WHERE figure = 'cases' GROUP BY 1 HAVING sum(n) <> 0) f ON f.k = c.k
      WHERE (c.n, c.q, c.s, c.r) IS DISTINCT FROM (f.n, f.q, f.s, f.r)
      LIMIT 5) x
UNION ALL
SELECT 'figures: approvals and completed steps per pair and day equal the cases and steps', count(*), coalesce(string_agg(k, ' '), '')
FROM (SELECT coalesce(c.k, f.k) AS k
      FROM (SELECT 'approvals/' || source_province || '>' || receiving_province || '/' || (approved_at + interval '8 hours')::date AS k,
                   count(*) AS n, sum(quantity_g) AS q, 0::numeric AS t
            FROM transfer_applications WHERE approved_at IS NOT NULL GROUP BY 1
            UNION ALL
            SELECT 'steps/' || s.side || '/' || a.source_province || '>' || a.receiving_province || '/' || (s.completed_at + interval '8 hours')::date,
                   count(*), 0, count(*) FILTER (WHERE s.completed_at <= s.due_at)
            FROM application_steps s JOIN transfer_applications a ON a.id = s.application_id
            WHERE s.completed_at IS NOT NULL GROUP BY 1) c
      FULL JOIN (SELECT figure || '/' || CASE WHEN figure = 'steps' THEN label || '/' ELSE '' END
                        || source_province || '>' || receiving_province || '/' || day AS k,
                        sum(n) AS n, sum(quantity_g) AS q, sum(on_time) AS t
                 FROM transfer_figures WHERE figure IN ('approvals', 'steps') GROUP BY 1 HAVING sum(n) <> 0) f ON f.k = c.k
      WHERE (c.n, c.q, c.t) IS DISTINCT FROM (f.n, f.q, f.t)
      LIMIT 5) x;
