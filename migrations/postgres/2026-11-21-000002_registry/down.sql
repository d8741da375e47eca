DROP TABLE quota_ledger;
DROP TABLE whitelist_entry_versions;
DROP TABLE whitelist_entries;
DROP TABLE agreements;
DROP TABLE operator_licences;
DROP TABLE operators;
DROP TABLE enterprises;
