//! The management side of the gateway: the YAML config model and its
//! validation, translation into the dataplane's tables, and the metrics
//! endpoint. Ordinary Rust; nothing here touches packets.

pub mod config;
pub mod metrics;
pub mod tables;

pub use config::{Config, ConfigError};
