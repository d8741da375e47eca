-- A licensed collector (收集单位) may be the transferring party (移出人), filing for the waste it
-- collected from many producers: an enterprise of kind 'collector', linked to the registered
-- operator record (the same legal person, the same USCC) whose 危险废物经营许可证 must include
-- collection (收集) and be in force on the day it files. Producers stay 'producer', unlinked.
ALTER TABLE enterprises ADD COLUMN kind TEXT NOT NULL DEFAULT 'producer' CHECK (kind IN ('producer', 'collector'));
-- (No REFERENCES here: SQLite cannot drop a column that is part of a foreign key, and the
-- registry checks the operator when it links it.)
ALTER TABLE enterprises ADD COLUMN collector_operator_id TEXT;
