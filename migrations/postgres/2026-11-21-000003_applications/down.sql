DROP TABLE approval_counters;
DROP TABLE application_events;
DROP TABLE decisions;
DROP TABLE clock_suspensions;
DROP TABLE application_steps;
DROP TABLE application_items;
DROP TABLE transfer_applications;
