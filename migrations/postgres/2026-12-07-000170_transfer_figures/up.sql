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

CREATE FUNCTION transfer_figures_of_case() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF TG_OP = 'DELETE'
            OR (OLD.status, OLD.quantity_g, OLD.shipped_g, OLD.received_g, OLD.source_province,
                OLD.receiving_province, OLD.created_at)
               IS DISTINCT FROM
               (NEW.status, NEW.quantity_g, NEW.shipped_g, NEW.received_g, NEW.source_province,
                NEW.receiving_province, NEW.created_at) THEN
            INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day,
                                          n, quantity_g, shipped_g, received_g, on_time)
            VALUES (false, 'cases', OLD.source_province, OLD.receiving_province, OLD.status,
                    to_char(OLD.created_at + interval '8 hours', 'YYYY-MM-DD'),
                    -1, -OLD.quantity_g, -OLD.shipped_g, -OLD.received_g, 0);
            IF TG_OP = 'UPDATE' THEN
                INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day,
                                              n, quantity_g, shipped_g, received_g, on_time)
                VALUES (false, 'cases', NEW.source_province, NEW.receiving_province, NEW.status,
                        to_char(NEW.created_at + interval '8 hours', 'YYYY-MM-DD'),
                        1, NEW.quantity_g, NEW.shipped_g, NEW.received_g, 0);
            END IF;
        END IF;
        IF OLD.approved_at IS NOT NULL AND (TG_OP = 'DELETE'
            OR (OLD.approved_at, OLD.quantity_g, OLD.source_province, OLD.receiving_province)
               IS DISTINCT FROM
               (NEW.approved_at, NEW.quantity_g, NEW.source_province, NEW.receiving_province)) THEN
            INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day,
                                          n, quantity_g, shipped_g, received_g, on_time)
            VALUES (false, 'approvals', OLD.source_province, OLD.receiving_province, '',
                    to_char(OLD.approved_at + interval '8 hours', 'YYYY-MM-DD'), -1, -OLD.quantity_g, 0, 0, 0);
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
    ELSE
        INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day,
                                      n, quantity_g, shipped_g, received_g, on_time)
        VALUES (false, 'cases', NEW.source_province, NEW.receiving_province, NEW.status,
                to_char(NEW.created_at + interval '8 hours', 'YYYY-MM-DD'),
                1, NEW.quantity_g, NEW.shipped_g, NEW.received_g, 0);
    END IF;
    IF NEW.approved_at IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.approved_at IS NULL
        OR (OLD.approved_at, OLD.quantity_g, OLD.source_province, OLD.receiving_province)
           IS DISTINCT FROM
           (NEW.approved_at, NEW.quantity_g, NEW.source_province, NEW.receiving_province)) THEN
        INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day,
                                      n, quantity_g, shipped_g, received_g, on_time)
        VALUES (false, 'approvals', NEW.source_province, NEW.receiving_province, '',
                to_char(NEW.approved_at + interval '8 hours', 'YYYY-MM-DD'), 1, NEW.quantity_g, 0, 0, 0);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER transfer_figures_of_case
    AFTER INSERT OR UPDATE OR DELETE ON transfer_applications
    FOR EACH ROW EXECUTE FUNCTION transfer_figures_of_case();

CREATE FUNCTION transfer_figures_of_step() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.completed_at IS NOT NULL AND (TG_OP = 'DELETE'
        OR (OLD.completed_at, OLD.due_at, OLD.side, OLD.application_id)
           IS DISTINCT FROM (NEW.completed_at, NEW.due_at, NEW.side, NEW.application_id)) THEN
        INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day,
                                      n, quantity_g, shipped_g, received_g, on_time)
        SELECT false, 'steps', a.source_province, a.receiving_province, OLD.side,
               to_char(OLD.completed_at + interval '8 hours', 'YYYY-MM-DD'),
               -1, 0, 0, 0, CASE WHEN OLD.completed_at <= OLD.due_at THEN -1 ELSE 0 END
        FROM transfer_applications a WHERE a.id = OLD.application_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF NEW.completed_at IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.completed_at IS NULL
        OR (OLD.completed_at, OLD.due_at, OLD.side, OLD.application_id)
           IS DISTINCT FROM (NEW.completed_at, NEW.due_at, NEW.side, NEW.application_id)) THEN
        INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day,
                                      n, quantity_g, shipped_g, received_g, on_time)
        SELECT false, 'steps', a.source_province, a.receiving_province, NEW.side,
               to_char(NEW.completed_at + interval '8 hours', 'YYYY-MM-DD'),
               1, 0, 0, 0, CASE WHEN NEW.completed_at <= NEW.due_at THEN 1 ELSE 0 END
        FROM transfer_applications a WHERE a.id = NEW.application_id;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER transfer_figures_of_step
    AFTER INSERT OR UPDATE OR DELETE ON application_steps
    FOR EACH ROW EXECUTE FUNCTION transfer_figures_of_step();

-- What is there already, folded.
INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day,
                              n, quantity_g, shipped_g, received_g, on_time)
SELECT true, 'cases', source_province, receiving_province, status, to_char(created_at + interval '8 hours', 'YYYY-MM-DD'),
       COUNT(*), SUM(quantity_g), SUM(shipped_g), SUM(received_g), 0
FROM transfer_applications
GROUP BY source_province, receiving_province, status, to_char(created_at + interval '8 hours', 'YYYY-MM-DD');

INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day,
                              n, quantity_g, shipped_g, received_g, on_time)
SELECT true, 'approvals', source_province, receiving_province, '', to_char(approved_at + interval '8 hours', 'YYYY-MM-DD'),
       COUNT(*), SUM(quantity_g), 0, 0, 0
FROM transfer_applications
WHERE approved_at IS NOT NULL
GROUP BY source_province, receiving_province, to_char(approved_at + interval '8 hours', 'YYYY-MM-DD');

INSERT INTO transfer_figures (folded, figure, source_province, receiving_province, label, day,
                              n, quantity_g, shipped_g, received_g, on_time)
SELECT true, 'steps', a.source_province, a.receiving_province, s.side, to_char(s.completed_at + interval '8 hours', 'YYYY-MM-DD'),
       COUNT(*), 0, 0, 0, COUNT(*) FILTER (WHERE s.completed_at <= s.due_at)
FROM application_steps s JOIN transfer_applications a ON a.id = s.application_id
WHERE s.completed_at IS NOT NULL
GROUP BY a.source_province, a.receiving_province, s.side, to_char(s.completed_at + interval '8 hours', 'YYYY-MM-DD');
