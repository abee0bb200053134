//! What people see in Telegram when a version is ready (the status message
//! becomes the ready message, with the preview links and the review
//! buttons), when it is published, and when something goes wrong. The
//! status updates before that are `progress`.

use pagesmith::db::{self, versions::Version};
use pagesmith::domain::{MessagePurpose, PagesStatus};
use uuid::Uuid;

use crate::context::Context;
use crate::{
    environment::Environment,
    error::JobError,
    generator::origin::Origin,
    preview_links::preview_urls,
    telegram::{Message, escape, status_key},
};

/// The ready message: links, files, checks, buttons.
pub fn ready_text(env: &Environment, ctx: &Context, version: &Version) -> String {
    let (live, safe) = preview_urls(&env.settings.preview_base_url, &version.preview_token);
    let total: u64 = version.files.iter().map(|f| f.size).sum();
    let mut names: Vec<&str> = version
        .files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| !p.starts_with('.'))
        .collect();
    let more = names.len().saturating_sub(8);
    names.truncate(8);
    let checks = super::check::report::section(&version.checks);
    // Say when the built-in template made it: with an LLM configured that
    // means the LLM failed; without one, how to get AI-written sites.
    let fallback = match (
        ctx.app.is_none() && Origin::is_builtin(&version.generator),
        env.settings.llm.is_some(),
    ) {
        (false, _) => String::new(),
        (true, true) => format!("\n\n{}", crate::texts::FALLBACK_NOTE),
        (true, false) => format!("\n\n{}", crate::texts::BUILTIN_NOTE),
    };
    format!(
        "✅ <b>{title}</b> — version {number} is ready\n\n\
         👀 Live preview: {live}\n🛡 Safe view (no scripts): {safe}\n\n\
         📁 {count} files, {size}: {names}{more}\n{checks}{fallback}\n\n\
         Approve to publish it, or ask for changes.",
        title = escape(&ctx.project.title),
        number = version.number,
        count = version.files.len(),
        size = human_size(total),
        names = escape(&names.join(", ")),
        more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
    )
}

/// Queues the ready message, once per version and chat: in the requester's
/// chat it replaces the job's status message; in the reviewer chat (an
/// /app job) it is a new message. Older ready messages of the project lose
/// their buttons, and the screenshots follow.
pub async fn ready(env: &Environment, ctx: &Context, version: &Version) -> Result<(), JobError> {
    let Some(chat_id) = ctx.chat_id.or(env.settings.reviewer_chat_id) else {
        return Ok(());
    };
    let mut text = ready_text(env, ctx, version);
    if let Some(app) = &ctx.app {
        text = format!(
            "📨 Evaluator task <b>{}</b>, round {}\n\n{text}",
            escape(&app.task),
            app.round
        );
    }
    let mut message = Message::text(chat_id, text)
        .with_buttons(crate::buttons::review(version.id))
        .once(format!("ready:{}:{chat_id}", version.id))
        .about(ctx.project.id, Some(version.id), MessagePurpose::Ready);
    if ctx.chat_id.is_some() {
        message = message.keyed(status_key(ctx.job.id));
    }
    if env.outbox.put(message).await? {
        retire_older_ready_messages(env, ctx, version, chat_id).await;
        super::screenshots::spawn(env, ctx, version, chat_id);
    }
    Ok(())
}

/// A newer version is ready: the older ready messages of the project in
/// this chat lose their buttons, keeping only a label pointing at it.
async fn retire_older_ready_messages(
    env: &Environment,
    ctx: &Context,
    version: &Version,
    chat_id: i64,
) {
    let older =
        match db::chat::older_ready_messages(&env.pool, chat_id, ctx.project.id, version.number)
            .await
        {
            Ok(older) => older,
            Err(e) => {
                tracing::warn!(error = %e, "could not look up older ready messages");
                return;
            }
        };
    for (message_id, old_version, _) in older {
        let label = crate::buttons::after(
            old_version,
            crate::buttons::Decision::Replaced {
                by_version: version.number,
            },
        );
        let retire = Message::buttons(chat_id, message_id, Some(label)).background();
        env.outbox.put_or_log(retire, "retired buttons").await;
    }
}

/// Tells the requester a job failed (or will be retried), in plain words,
/// in place of the job's status message.
pub async fn trouble(env: &Environment, chat_id: Option<i64>, job_id: Uuid, text: &str) {
    let Some(chat_id) = chat_id else { return };
    let message = Message::text(chat_id, text).keyed(status_key(job_id));
    env.outbox.put_or_log(message, "trouble").await;
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// Tells the requester and the reviewer chat (when one is set) where the
/// site went live, once per version and chat.
pub async fn published(
    env: &Environment,
    ctx: &Context,
    version: &Version,
    record: &pagesmith::db::publishing::PublishRecord,
) {
    let pages = if record.pages_status == PagesStatus::Built {
        ""
    } else {
        " (GitHub Pages may need a minute to build)"
    };
    let text = format!(
        "🌍 <b>{}</b> version {} is published!\n\n📦 Repository: {}\n🔗 Live site: {}{pages}",
        escape(&ctx.project.title),
        version.number,
        record.repo_url,
        record.pages_url,
    );
    let mut chats: Vec<i64> = ctx.chat_id.into_iter().collect();
    chats.extend(env.settings.reviewer_chat_id.filter(|c| !chats.contains(c)));
    for chat_id in chats {
        let message = Message::text(chat_id, text.clone())
            .once(format!("published:{}:{chat_id}", version.id))
            .about(ctx.project.id, Some(version.id), MessagePurpose::Published);
        env.outbox.put_or_log(message, "published").await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(204_800), "200.0 KB");
    }
}
