//! Talking to Telegram without making any job wait on it.
//!
//! Jobs queue messages in PostgreSQL ([`Outbox`], [`Message`]) and move on;
//! each worker's delivery loop ([`delivery`]) sends them per chat, in order,
//! at a pace that fits Telegram's limits, and waits out a 429 in that chat
//! alone. Only the answer to a button click goes straight to the Bot API
//! ([`Telegram::answer_callback`]). Telegram errors never crash the worker:
//! the job's state lives in PostgreSQL, not in chat.

mod client;
pub mod delivery;
mod outbox;

pub use client::{Buttons, Telegram, TelegramError};
pub use delivery::Pace;
pub use outbox::{Message, Outbox, status_key};

/// Telegram's HTML takes the same escaping as a page.
pub use crate::text::escape;
