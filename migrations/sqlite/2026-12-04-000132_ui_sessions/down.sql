DROP INDEX ui_sessions_started;
DROP TABLE ui_sessions;
