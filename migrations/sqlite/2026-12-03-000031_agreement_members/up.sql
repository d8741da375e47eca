-- One agreement among N provinces (川渝滇黔 signed one four-province mechanism): its members,
-- each confirming for itself. The agreement counts once every member has confirmed. province_a
-- and province_b stay the two lowest codes of the members.
CREATE TABLE agreement_members (
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    province TEXT NOT NULL,
    confirmed_by TEXT,
    confirmed_at TIMESTAMP,
    PRIMARY KEY (agreement_id, province)
);
CREATE INDEX agreement_members_province ON agreement_members (province, agreement_id);
INSERT INTO agreement_members (agreement_id, province, confirmed_by, confirmed_at)
SELECT id, province_a,
       CASE WHEN proposed_by_province = province_a THEN proposed_by ELSE confirmed_by END,
       CASE WHEN proposed_by_province = province_a THEN created_at ELSE confirmed_at END
FROM agreements;
INSERT INTO agreement_members (agreement_id, province, confirmed_by, confirmed_at)
SELECT id, province_b,
       CASE WHEN proposed_by_province = province_b THEN proposed_by ELSE confirmed_by END,
       CASE WHEN proposed_by_province = province_b THEN created_at ELSE confirmed_at END
FROM agreements;
