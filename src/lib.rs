//! Kezek: a fair, durable, explainable waiting list for state kindergarten places.
//!
//! See ARCHITECTURE.md for the map. In short: `domain` holds the rules and does no IO;
//! `store` is the only place with SQL; `service` turns a command into validate, persist in
//! one transaction, apply to memory; `http` is the only place that knows JSON over the wire.

pub mod clock;
pub mod config;
pub mod demo;
pub mod documents;
pub mod domain;
pub mod http;
pub mod import;
pub mod notify;
pub mod opendata;
pub mod scan;
pub mod service;
pub mod simulate;
pub mod store;
pub mod verify;
