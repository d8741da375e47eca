-- The standard route as 部令第23号 writes it (issue 17).
-- A refusal that ends a case is a numbered decision document of the source province: 不予许可
-- (第26条) or 不予受理 (行政许可法 第32条), with its reasons (JSON list) and the moment.
ALTER TABLE transfer_applications ADD COLUMN refusal_number TEXT;
ALTER TABLE transfer_applications ADD COLUMN refused_at TIMESTAMP;
ALTER TABLE transfer_applications ADD COLUMN refusal_reasons TEXT;
CREATE UNIQUE INDEX transfer_applications_refusal_number ON transfer_applications (refusal_number);
-- The consultation letter (商请函) and the receiving province's reply (复函): the numbers the
-- departments gave them in their own document registers, and their dates.
ALTER TABLE transfer_applications ADD COLUMN consultation_number TEXT;
ALTER TABLE transfer_applications ADD COLUMN consultation_date TEXT;
ALTER TABLE transfer_applications ADD COLUMN reply_number TEXT;
ALTER TABLE transfer_applications ADD COLUMN reply_date TEXT;
-- Gap-free numbers of the decision documents other than the approval, per series (not_permitted,
-- not_accepted), source province and year.
CREATE TABLE decision_counters (
    series TEXT NOT NULL,
    source_province TEXT NOT NULL,
    year INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (series, source_province, year)
);
-- 抄送: each department an approval is copied to, recorded when the approval is issued.
CREATE TABLE approval_copies (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES transfer_applications (id),
    -- source_transport, receiving_transport or receiving_environment.
    recipient TEXT NOT NULL,
    province TEXT NOT NULL,
    department TEXT NOT NULL,
    approval_number TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    UNIQUE (application_id, recipient)
);
