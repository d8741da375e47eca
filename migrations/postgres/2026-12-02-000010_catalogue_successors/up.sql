-- 国家危险废物名录: what each code of the previous edition became in a new edition (the new
-- edition's 附表 and its note on changed codes). `edition` is the new edition. A split is several
-- rows with one old code, a merge several rows with one new code. Whitelist entries scoped to an
-- old code follow it to its successors (looked up by new_code).
CREATE TABLE catalogue_successors (
    edition INTEGER NOT NULL REFERENCES catalogue_editions (edition),
    old_code TEXT NOT NULL,
    new_code TEXT NOT NULL,
    PRIMARY KEY (edition, old_code, new_code)
);
CREATE INDEX catalogue_successors_new_code ON catalogue_successors (new_code);
