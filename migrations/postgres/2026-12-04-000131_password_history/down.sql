DROP INDEX password_history_user;
DROP TABLE password_history;
