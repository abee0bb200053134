//! The worker against real PostgreSQL and RabbitMQ, with a fake Telegram
//! and scripted generators.

mod browser_checks;
mod consumer;
mod conversation;
mod generation;
mod guidance;
mod helpers;
mod history;
mod interactive;
mod llm;
mod publishing;
mod screenshots;
mod telegram_delivery;
