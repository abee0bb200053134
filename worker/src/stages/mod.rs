//! The stages of a generation job, one module each.

pub mod bundle;
pub mod check;
pub mod generate;
pub mod notify;
pub mod resolve;
