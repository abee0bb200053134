//! The stages of a generation job, one module each.

pub mod bundle;
pub mod callback;
pub mod check;
pub mod generate;
pub mod notify;
pub mod progress;
pub mod publish;
pub mod repair;
pub mod resolve;
pub mod review;
pub mod screenshots;
