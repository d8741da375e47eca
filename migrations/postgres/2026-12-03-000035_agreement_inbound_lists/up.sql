-- One-sided lists (Hubei's 2025 inbound list): a receiving province pre-consents, for its listed
-- operators, to transfers from any province. Such an agreement has one member (the receiving
-- province, province_b), province_a '*' (any source), and counts from its proposal.
ALTER TABLE agreements ADD COLUMN kind TEXT NOT NULL DEFAULT 'mutual';
