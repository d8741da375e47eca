-- Cases accepted before 2026-12-03-000020_procedure on the whitelist route under a `consent`
-- agreement ran one step (whitelist_decision, the source's side) for both provinces' decisions.
-- The code since gives each province its own step: the receiving province's whitelist_consent
-- runs beside the source's, with the same start, allowance, deadline and suspensions, so that
-- its queue, overdue flag, escalation and clock suspension work for it. This gives the cases
-- still open the steps the code expects:
-- - the receiving province's step, done already (outcome approved, when it decided) if it has
--   decided (an open case's decision can only have been an approval: a refusal ends the case);
-- - the source's step closed (approved, when it decided) if the source has decided and the case
--   only waited for the receiving province, which is then the side the case waits for.
-- Cases accepted since already have both steps and are not touched. A suspension of the one old
-- clock is copied to the receiving province's step: each province then resumes its own.
CREATE TEMPORARY TABLE legacy_consent AS
SELECT s.id AS step_id,
       s.application_id AS application_id,
       substr(s.id, 1, 24) || substr(md5(random()::text || s.id), 1, 12) AS consent_id,
       (SELECT MIN(d.decided_at) FROM decisions d
         WHERE d.application_id = s.application_id AND d.side = 'receiving') AS receiving_at,
       (SELECT MIN(d.decided_at) FROM decisions d
         WHERE d.application_id = s.application_id AND d.side = 'source') AS source_at
FROM application_steps s
JOIN transfer_applications a ON a.id = s.application_id
WHERE a.route = 'whitelist'
  AND a.receiving_consent = 'consent'
  AND a.status = 'under_review'
  AND s.kind = 'whitelist_decision'
  AND s.completed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM application_steps c
                   WHERE c.application_id = s.application_id AND c.kind = 'whitelist_consent');

INSERT INTO application_steps (id, application_id, kind, side, started_on, working_days, due_on, due_at,
                               provisional, completed_at, outcome, overdue_at, reminded_at)
SELECT l.consent_id, s.application_id, 'whitelist_consent', 'receiving', s.started_on, s.working_days,
       s.due_on, s.due_at, s.provisional, l.receiving_at,
       CASE WHEN l.receiving_at IS NULL THEN NULL ELSE 'approved' END,
       CASE WHEN l.receiving_at IS NULL THEN s.overdue_at ELSE NULL END,
       CASE WHEN l.receiving_at IS NULL THEN s.reminded_at ELSE NULL END
FROM legacy_consent l
JOIN application_steps s ON s.id = l.step_id;

INSERT INTO clock_suspensions (id, application_id, step_id, reason, suspended_on, resumed_on, suspended_by,
                               resumed_by, created_at)
SELECT substr(cs.id, 1, 24) || substr(md5(random()::text || cs.id), 1, 12), cs.application_id, l.consent_id, cs.reason, cs.suspended_on,
       cs.resumed_on, cs.suspended_by, cs.resumed_by, cs.created_at
FROM clock_suspensions cs
JOIN legacy_consent l ON l.step_id = cs.step_id
WHERE l.receiving_at IS NULL;

UPDATE application_steps
SET completed_at = (SELECT l.source_at FROM legacy_consent l WHERE l.step_id = application_steps.id),
    outcome = 'approved'
WHERE id IN (SELECT step_id FROM legacy_consent WHERE source_at IS NOT NULL);

UPDATE transfer_applications
SET next_side = 'receiving'
WHERE id IN (SELECT application_id FROM legacy_consent WHERE source_at IS NOT NULL);

DROP TABLE legacy_consent;
