//! The one integration-test binary: real servers on random ports, real databases (SQLite temp
//! files and PostgreSQL databases cloned from a migrated template).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod access;
mod accounts;
mod applications;
mod audit;
mod auth;
mod batch;
mod calendar;
mod catalogue;
mod changes;
mod cli;
mod collectors;
mod consent_backfill;
mod crypto;
mod enforcement;
mod erp_example;
mod errors;
mod faults;
mod fixtures;
mod history;
mod import;
mod layers;
mod log_hygiene;
mod loose_ends;
mod manifest_rules;
mod manifests;
mod migrations;
mod openapi;
mod operations;
mod permissions;
mod procedure;
mod race;
mod rate_limit;
mod reference;
mod regimes;
mod replica;
mod second_factor;
mod security_events;
mod seed;
mod ui;
mod ui_accounts;
mod ui_regimes;
mod webhooks;
mod whitelist;
