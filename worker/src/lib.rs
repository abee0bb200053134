//! `worker`: consumes jobs, generates, checks, bundles, talks to Telegram,
//! publishes and calls back.

pub mod generator;
