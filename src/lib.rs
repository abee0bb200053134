//! pagesmith's shared library: everything two binaries need.
//!
//! It exposes domain types and plain functions, never axum or lapin types in
//! its signatures where a domain type will do, so each binary keeps its
//! framework to itself.

pub mod backoff;
pub mod bundle;
pub mod config;
pub mod db;
pub mod domain;
pub mod marked_processes;
pub mod queue;
pub mod sanitize;
pub mod secret;
pub mod shutdown;
pub mod telemetry;
