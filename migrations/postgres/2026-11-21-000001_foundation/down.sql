DROP TABLE calendar_days;
DROP TABLE calendar_years;
DROP TABLE waste_codes;
DROP TABLE catalogue_editions;
DROP TABLE login_throttle;
DROP TABLE api_clients;
DROP TABLE users;
