//! The management side of the gateway: the YAML config model and its
//! validation, translation into the dataplane's tables, the controller
//! that applies changes live, the REST API with its OpenAPI document,
//! tokens, the audit log, metrics, the FPM listener for routes from FRR,
//! and the `gatewayd ctl` client.
//! Ordinary Rust; nothing here touches packets.

pub mod api;
pub mod audit;
pub mod auth;
pub mod config;
pub mod control;
pub mod ctl;
pub mod doctor;
pub mod fpm;
pub mod metrics;
pub mod natlog;
pub mod nic;
pub mod notify;
pub mod persist;
pub mod plan;
pub mod problem;
pub mod punt;
pub mod tables;

pub use config::{Config, ConfigError};
