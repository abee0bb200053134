//! Bot commands: `/start`, `/help`, `/status`, `/history`, `/diff`,
//! `/rollback`, `/new` without a description, the `guide` the bot makes of
//! chatter, and a friendly answer to anything else.

mod diff;
mod history;
pub mod rollback;

use pagesmith::{
    db::{self, jobs::Job},
    domain::{JobPayload, JobState, PagesStatus, job::TelegramCommand},
};

use crate::{
    environment::Environment,
    error::JobError,
    preview_links::preview_urls,
    telegram::{Message, escape},
};

const HELP: &str = "I build websites from a description.\n\n\
<b>Describe a site</b> in a message, e.g. <i>A one-page site for my bakery with the menu, opening hours and a contact form</i>. \
I'll write it, check it, and send you preview links.\n\n\
<b>Change it</b>: reply to my message with what to change, or send <code>/revise make the header blue</code>.\n\
<b>Publish it</b>: press ✅ Approve under the preview.\n\n\
Commands:\n\
/new &lt;description&gt; — start a new site, even when you have one\n\
/status — your recent sites and where they stand\n\
/revise &lt;text&gt; — change your latest site\n\
/history — every version of your latest site, with links and scores\n\
/diff — what changed between its last two versions\n\
/rollback &lt;n&gt; — bring back version n as a new version to approve\n\
/help — this message";

/// Answers a command in its chat.
pub async fn run(env: &Environment, job: Job) -> Result<(), JobError> {
    let JobPayload::Command(command) = &job.payload else {
        return Err(JobError::permanent("a command job without a command", ""));
    };
    let text = match command.name.as_str() {
        "start" => format!("👋 Hi! {HELP}"),
        "help" => HELP.to_owned(),
        // `/new <description>` is a prompt; the bot sends `guide` for chatter.
        "new" | "guide" => crate::texts::GUIDE.to_owned(),
        "status" => status(env, command).await?,
        "history" => history::run(env, command).await?,
        "diff" => diff::run(env, command).await?,
        "rollback" => rollback::run(env, command).await?,
        "revise" => "Tell me what to change, e.g. <code>/revise make the header blue</code> — \
                     or reply to my message about the site."
            .to_owned(),
        other => format!("I don't know <code>/{}</code>. Try /help.", escape(other)),
    };
    // Queued once: a redelivered command does not answer twice.
    let reply = Message::text(command.chat_id, text).once(format!("reply:{}", job.id));
    env.outbox.put(reply).await?;
    let mut conn = env.pool.acquire().await?;
    db::jobs::transition(&mut conn, job.id, &[JobState::Queued], JobState::Done).await?;
    Ok(())
}

async fn status(env: &Environment, command: &TelegramCommand) -> Result<String, JobError> {
    let jobs = db::jobs::recent_in_chat(&env.pool, command.chat_id, 5).await?;
    if jobs.is_empty() {
        return Ok(NO_SITE.to_owned());
    }
    let lines: Vec<String> = jobs
        .iter()
        .map(|j| {
            let title = escape(j.title.as_deref().unwrap_or("(new site)"));
            let when = j.created_at.format("%Y-%m-%d %H:%M UTC");
            let state = describe(j.state);
            let link = j
                .preview_token
                .as_deref()
                .map(|t| {
                    format!(
                        "\n   👀 {}",
                        preview_urls(&env.settings.preview_base_url, t).0
                    )
                })
                .unwrap_or_default();
            let error = j
                .error
                .as_deref()
                .filter(|_| j.state == JobState::Failed)
                .map(|e| {
                    format!(
                        "\n   ⚠️ {}",
                        escape(&e.chars().take(140).collect::<String>())
                    )
                })
                .unwrap_or_default();
            let published = match (&j.pages_url, &j.repo_url) {
                (Some(pages), Some(repo)) => {
                    let building = match j.pages_status {
                        Some(PagesStatus::Built) => "",
                        _ => " (Pages still building)",
                    };
                    format!("\n   🔗 {pages}{building}\n   📦 {repo}")
                }
                _ => String::new(),
            };
            let round = j.round.map(|r| format!(" v{r}")).unwrap_or_default();
            format!("• <b>{title}</b>{round} — {state} ({when}){link}{published}{error}")
        })
        .collect();
    Ok(format!("Your recent sites:\n\n{}", lines.join("\n")))
}

/// The project a command is about: the chat's latest.
async fn chat_project(
    env: &Environment,
    command: &TelegramCommand,
) -> Result<Option<db::projects::Project>, JobError> {
    Ok(db::projects::latest_in_chat(&env.pool, command.chat_id).await?)
}

const NO_SITE: &str = "You have no sites yet. Describe one and I'll build it!";

fn describe(state: JobState) -> &'static str {
    match state {
        JobState::Queued => "⏳ queued",
        JobState::Generating => "✍️ being written",
        JobState::Checking => "🔎 being checked",
        JobState::PreviewReady => "👀 ready for review",
        JobState::Approved => "👍 approved",
        JobState::Publishing => "🚀 publishing",
        JobState::Published => "🌍 published",
        JobState::Done => "✅ done",
        JobState::Rejected => "🗑 rejected",
        JobState::Expired => "⌛ expired",
        JobState::Failed => "❌ failed",
    }
}
