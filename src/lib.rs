//! hwtransfer: the cross-provincial hazardous-waste transfer whitelist service
//! (危险废物跨省转移"白名单").
//!
//! Layout (see docs/ARCHITECTURE.md): `domain` holds pure rules and types; `db` is the only module
//! that knows diesel; `auth` does tokens and permissions; `audit` the
//! hash-chained trail of every change; `api` is the HTTP surface; `cli` the
//! command line; `app` wires them together.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod jobs;
pub mod metrics;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod web;
pub mod webhooks;
