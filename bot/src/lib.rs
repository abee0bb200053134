//! `bot`: the HTTP ingress (Telegram webhook, evaluator `/app`, job status,
//! health, metrics), the Telegram poller for polling mode, and the outbox
//! relay that publishes jobs to RabbitMQ.

pub mod error;
pub mod group_commit;
pub mod janitor;
pub mod polling;
pub mod relay;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod updates;
pub mod webhook;

pub use settings::Settings;
pub use startup::Application;
