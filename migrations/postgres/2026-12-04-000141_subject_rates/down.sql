DROP TABLE subject_rates;
