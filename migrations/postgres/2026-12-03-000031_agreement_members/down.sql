DROP TABLE agreement_members;
