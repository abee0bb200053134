//! `preview`: serves generated sites from their own origin, in two views of
//! every version — live (`/p/{token}/…`, as generated, JavaScript included,
//! isolated by a sandboxing CSP) and safe (`/s/{token}/…`, the sanitized,
//! script-free tree the worker wrote) — plus `/health` and `/metrics`.
//!
//! On a second address (`PAGES_ADDR`), it hosts what the local publisher
//! published: each site, and its repository for `git clone` ([`published`]).

pub mod conditional;
pub mod encoding;
pub mod files;
pub mod headers;
pub mod layers;
pub mod published;
pub mod request_log;
pub mod request_metrics;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod versions;
pub mod zero_copy;

pub use settings::Settings;
pub use startup::Application;
