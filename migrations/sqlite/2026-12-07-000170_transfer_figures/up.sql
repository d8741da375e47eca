-- Maintained totals for the reads that sum over the archive (the history's totals, the
-- dashboard): what they sum, kept per (figure, province pair, label, Asia/Shanghai day), so that
-- their cost follows the number of days and province pairs, not the number of cases.
--
-- Triggers append one signed row per change (`folded = false`): appends never wait for each
-- other, so the filing transaction gains no hot row to lock. The sweeper's fold
-- (db::figures::fold) sums the appended rows into one folded row per key and deletes them in one
-- statement. A read sums folded and appended rows alike in one statement, so it sees each change
-- exactly once whether or not it has been folded.
--
-- `day` is text (YYYY-MM-DD), as every calendar day of this schema is.
--
-- Figures:
--   cases      label = status,  day = created (Shanghai): n cases, quantity_g, shipped_g, received_g
--   approvals  label = '',      day = approved (Shanghai): n approvals, quantity_g
--   steps      label = side,    day = completed (Shanghai): n steps completed, on_time of them
-- China keeps UTC+8 the year round, so the Shanghai day is the UTC instant plus eight hours.
CREATE TABLE transfer_figures (
    folded BOOLEAN NOT NULL,
    figure TEXT NOT NULL,
    source_province TEXT NOT NULL,
    receiving_province TEXT NOT NULL,
    label TEXT NOT NULL,
    day TEXT NOT NULL,
    n BIGINT NOT NULL,
    quantity_g BIGINT NOT NULL,
    shipped_g BIGINT NOT NULL,
    received_g BIGINT NOT NULL,
    on_time BIGINT NOT NULL
);
CREATE UNIQUE INDEX transfer_figures_key ON transfer_figures
    (figure, source_province, receiving_province, label, day) WHERE folded;
-- No key of its own: an appended row repeats its folded row's key until the fold.
CREATE INDEX transfer_figures_read ON transfer_figures (figure, label, source_province, receiving_province, day);
CREATE INDEX transfer_figures_appended ON transfer_figures (figure) WHERE NOT folded;

CREATE TRIGGER transfer_figures_case_insert AFTER INSERT ON transfer_applications
BEGIN
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    VALUES (0, 'cases', NEW.source_province, NEW.receiving_province, NEW.status, date(NEW.created_at, '+8 hours'), 1, NEW.quantity_g, NEW.shipped_g, NEW.received_g, 0);
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    SELECT 0, 'approvals', NEW.source_province, NEW.receiving_province, '', date(NEW.approved_at, '+8 hours'), 1, NEW.quantity_g, 0, 0, 0 WHERE NEW.approved_at IS NOT NULL;
END;

CREATE TRIGGER transfer_figures_case_update AFTER UPDATE ON transfer_applications
WHEN OLD.status IS NOT NEW.status OR OLD.quantity_g IS NOT NEW.quantity_g OR OLD.shipped_g IS NOT NEW.shipped_g OR OLD.received_g IS NOT NEW.received_g OR OLD.source_province IS NOT NEW.source_province OR OLD.receiving_province IS NOT NEW.receiving_province OR OLD.created_at IS NOT NEW.created_at
BEGIN
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    VALUES (0, 'cases', OLD.source_province, OLD.receiving_province, OLD.status, date(OLD.created_at, '+8 hours'), -1, -OLD.quantity_g, -OLD.shipped_g, -OLD.received_g, 0);
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    VALUES (0, 'cases', NEW.source_province, NEW.receiving_province, NEW.status, date(NEW.created_at, '+8 hours'), 1, NEW.quantity_g, NEW.shipped_g, NEW.received_g, 0);
END;

CREATE TRIGGER transfer_figures_approval_update AFTER UPDATE ON transfer_applications
WHEN OLD.approved_at IS NOT NEW.approved_at OR OLD.quantity_g IS NOT NEW.quantity_g OR OLD.source_province IS NOT NEW.source_province OR OLD.receiving_province IS NOT NEW.receiving_province
BEGIN
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    SELECT 0, 'approvals', OLD.source_province, OLD.receiving_province, '', date(OLD.approved_at, '+8 hours'), -1, -OLD.quantity_g, 0, 0, 0 WHERE OLD.approved_at IS NOT NULL;
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    SELECT 0, 'approvals', NEW.source_province, NEW.receiving_province, '', date(NEW.approved_at, '+8 hours'), 1, NEW.quantity_g, 0, 0, 0 WHERE NEW.approved_at IS NOT NULL;
END;

CREATE TRIGGER transfer_figures_case_delete AFTER DELETE ON transfer_applications
BEGIN
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    VALUES (0, 'cases', OLD.source_province, OLD.receiving_province, OLD.status, date(OLD.created_at, '+8 hours'), -1, -OLD.quantity_g, -OLD.shipped_g, -OLD.received_g, 0);
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    SELECT 0, 'approvals', OLD.source_province, OLD.receiving_province, '', date(OLD.approved_at, '+8 hours'), -1, -OLD.quantity_g, 0, 0, 0 WHERE OLD.approved_at IS NOT NULL;
END;

CREATE TRIGGER transfer_figures_step_insert AFTER INSERT ON application_steps
BEGIN
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    SELECT 0, 'steps', a.source_province, a.receiving_province, NEW.side, date(NEW.completed_at, '+8 hours'), 1, 0, 0, 0, CASE WHEN NEW.completed_at <= NEW.due_at THEN 1 ELSE 0 END FROM transfer_applications a WHERE a.id = NEW.application_id AND NEW.completed_at IS NOT NULL;
END;

CREATE TRIGGER transfer_figures_step_update AFTER UPDATE ON application_steps
WHEN OLD.completed_at IS NOT NEW.completed_at OR OLD.due_at IS NOT NEW.due_at OR OLD.side IS NOT NEW.side OR OLD.application_id IS NOT NEW.application_id
BEGIN
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    SELECT 0, 'steps', a.source_province, a.receiving_province, OLD.side, date(OLD.completed_at, '+8 hours'), -1, 0, 0, 0, CASE WHEN OLD.completed_at <= OLD.due_at THEN -1 ELSE 0 END FROM transfer_applications a WHERE a.id = OLD.application_id AND OLD.completed_at IS NOT NULL;
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    SELECT 0, 'steps', a.source_province, a.receiving_province, NEW.side, date(NEW.completed_at, '+8 hours'), 1, 0, 0, 0, CASE WHEN NEW.completed_at <= NEW.due_at THEN 1 ELSE 0 END FROM transfer_applications a WHERE a.id = NEW.application_id AND NEW.completed_at IS NOT NULL;
END;

CREATE TRIGGER transfer_figures_step_delete AFTER DELETE ON application_steps
BEGIN
    INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
    SELECT 0, 'steps', a.source_province, a.receiving_province, OLD.side, date(OLD.completed_at, '+8 hours'), -1, 0, 0, 0, CASE WHEN OLD.completed_at <= OLD.due_at THEN -1 ELSE 0 END FROM transfer_applications a WHERE a.id = OLD.application_id AND OLD.completed_at IS NOT NULL;
END;

-- What is there already, folded.
INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
SELECT 1, 'cases', source_province, receiving_province, status, date(created_at, '+8 hours'),
       COUNT(*), SUM(quantity_g), SUM(shipped_g), SUM(received_g), 0
FROM transfer_applications
GROUP BY source_province, receiving_province, status, date(created_at, '+8 hours');

INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
SELECT 1, 'approvals', source_province, receiving_province, '', date(approved_at, '+8 hours'),
       COUNT(*), SUM(quantity_g), 0, 0, 0
FROM transfer_applications
WHERE approved_at IS NOT NULL
GROUP BY source_province, receiving_province, date(approved_at, '+8 hours');

INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time)
SELECT 1, 'steps', a.source_province, a.receiving_province, s.side, date(s.completed_at, '+8 hours'),
       COUNT(*), 0, 0, 0, SUM(CASE WHEN s.completed_at <= s.due_at THEN 1 ELSE 0 END)
FROM application_steps s JOIN transfer_applications a ON a.id = s.application_id
WHERE s.completed_at IS NOT NULL
GROUP BY a.source_province, a.receiving_province, s.side, date(s.completed_at, '+8 hours');
