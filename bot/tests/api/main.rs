//! Integration tests of the bot against real PostgreSQL and RabbitMQ, one
//! binary so they share one build and link.

mod app;
mod conversation;
mod corpus;
mod health;
mod helpers;
mod jobs;
mod migrate;
mod openapi;
mod polling;
mod relay;
mod set_webhook;
mod webhook;
