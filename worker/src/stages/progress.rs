//! The job's status message (queued → writing → checking).
//!
//! Each stage queues the text under the job's status key and moves on: the
//! first delivery sends the message and later ones edit it, and a newer text
//! replaces a queued older one, so a slow chat sees the latest stage, never
//! an older one after it. The ready message goes under the same key, so it
//! replaces the status message. Status texts are background messages: a
//! reply to a command in the same chat goes first.

use crate::{
    context::Context,
    environment::Environment,
    telegram::{Message, escape, status_key},
};
use pagesmith::domain::MessagePurpose;

/// A stage worth showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Queued,
    Writing,
    Checking,
}

fn stage_text(stage: Stage, ctx: &Context) -> String {
    let what = if ctx.request.change_request.is_some() {
        format!(
            "version {} of <b>{}</b>",
            ctx.round,
            escape(&ctx.project.title)
        )
    } else {
        format!("<b>{}</b>", escape(&ctx.project.title))
    };
    match stage {
        Stage::Queued => format!("⏳ Got it! Your site {what} is queued."),
        Stage::Writing => format!("✍️ Writing {what}…\n\n▰▱▱ generating the pages"),
        Stage::Checking => format!("🔎 Checking {what}…\n\n▰▰▱ validating files and links"),
    }
}

/// Queues `stage` for the job's status message; without a chat (an /app
/// job) there is none.
pub async fn show(env: &Environment, ctx: &Context, stage: Stage) {
    let Some(chat_id) = ctx.chat_id else { return };
    let message = Message::text(chat_id, stage_text(stage, ctx))
        .keyed(status_key(ctx.job.id))
        .background()
        .about(ctx.project.id, None, MessagePurpose::Status);
    env.outbox.put_or_log(message, "status").await;
}
