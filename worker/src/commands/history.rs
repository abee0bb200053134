//! `/history`: every version of the chat's latest site, newest first, with
//! its check scores (structure and behaviour), its state, its commit and its preview link.

use pagesmith::domain::VersionState;
use pagesmith::{
    db::{self, versions::HistoryEntry},
    domain::{JobState, job::TelegramCommand},
};

use super::{NO_SITE, chat_project, describe};
use crate::{
    environment::Environment, error::JobError, preview_links::preview_urls, telegram::escape,
};

/// How many versions one answer lists (Telegram caps a message at 4096 characters).
const SHOWN: i64 = 15;

pub async fn run(env: &Environment, command: &TelegramCommand) -> Result<String, JobError> {
    let Some(project) = chat_project(env, command).await? else {
        return Ok(NO_SITE.to_owned());
    };
    let entries = db::versions::history(&env.pool, project.id, SHOWN).await?;
    if entries.is_empty() {
        return Ok(format!(
            "<b>{}</b> has no versions yet.",
            escape(&project.title)
        ));
    }
    let lines: Vec<String> = entries.iter().map(|e| line(env, e)).collect();
    Ok(format!(
        "🕘 Versions of <b>{}</b>, newest first:\n\n{}",
        escape(&project.title),
        lines.join("\n\n")
    ))
}

fn line(env: &Environment, entry: &HistoryEntry) -> String {
    let checks = crate::stages::check::report::short(&entry.checks());
    let when = entry.created_at.format("%Y-%m-%d %H:%M UTC");
    let state = match (entry.state, &entry.commit_sha) {
        (VersionState::Rejected, _) => "🗑 rejected".to_owned(),
        (VersionState::Expired, _) => "⌛ expired".to_owned(),
        (_, Some(sha)) => format!("🌍 published, commit <code>{}</code>", short(sha)),
        _ => describe(entry.job_state).to_owned(),
    };
    let link = if entry.state == VersionState::Active && entry.job_state != JobState::Failed {
        format!(
            "\n   👀 {}",
            preview_urls(&env.settings.preview_base_url, &entry.preview_token).0
        )
    } else {
        String::new()
    };
    format!(
        "• <b>v{number}</b> — {state} ({when})\n   {generator}, {checks}{link}",
        number = entry.number,
        generator = escape(&entry.generator),
    )
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}
