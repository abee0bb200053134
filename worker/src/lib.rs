//! `worker`: consumes jobs, generates, checks, bundles, talks to Telegram,
//! publishes and calls back.

pub mod browser;
pub mod buttons;
pub mod clicks;
pub mod commands;
pub mod consumer;
pub mod context;
pub mod environment;
pub mod error;
pub mod generator;
pub mod lock;
pub mod manifest;
pub mod metrics_server;
pub mod pipeline;
pub mod preview_links;
pub mod process;
pub mod publish;
pub mod rate_limit;
pub mod secrets;
pub mod settings;
pub mod site_name;
pub mod slots;
pub mod stages;
pub mod startup;
pub mod telegram;
pub mod text;
pub mod texts;

pub use settings::Settings;
pub use startup::{RunningWorker, Worker};
