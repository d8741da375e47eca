-- The algorithms a database was started with (HWT_CRYPTO: 'standard' = SHA-256 chain, 'sm' = SM3
-- chain), recorded with the chain's head on first start; NULL until then (a chain written
-- before this column is SHA-256). A start with the other setting is refused.
ALTER TABLE audit_head ADD COLUMN crypto TEXT;
