//! Desktop and mobile screenshots of a ready version's live preview, queued
//! for the chat as photos right under the ready message, captioned with both
//! preview links: the first thing a reviewer sees.
//!
//! They run beside the job, never in its way: the job (and an `/app` job's
//! publish and callback) goes on at once, and no browser, a preview that
//! does not serve the page or a browser failure is only logged (and counted
//! in `pagesmith_screenshots_total`). The photos are background messages:
//! a reply to a command in the same chat goes before them. Each is queued
//! once per version, chat and screen, so a redelivered job sends no second
//! set, and recorded like the ready message, so a reply to it asks for
//! changes to the same site.

use pagesmith::db::versions::Version;
use pagesmith::domain::MessagePurpose;

use crate::{
    browser::Shot,
    context::Context,
    environment::Environment,
    preview_links::preview_urls,
    telegram::{Message, escape},
};

/// Starts the screenshots of `version` for `chat_id` on the environment's
/// side tasks, when a browser is configured.
pub fn spawn(env: &Environment, ctx: &Context, version: &Version, chat_id: i64) {
    let Some(shooter) = env
        .settings
        .browser
        .clone()
        .filter(|_| env.settings.screenshots)
    else {
        return;
    };
    let outbox = env.outbox.clone();
    let (live, safe) = preview_urls(&env.settings.preview_base_url, &version.preview_token);
    let title = escape(&ctx.project.title);
    let number = version.number;
    let (job_id, project_id, version_id) = (ctx.job.id, ctx.project.id, version.id);
    env.side_tasks.spawn(async move {
        let shots = match shooter.screenshots(&live).await {
            Ok(shots) => shots,
            Err(e) => {
                counted("capture_failed");
                tracing::warn!(job.id = %job_id, error = %e, "could not take the screenshots");
                return;
            }
        };
        for shot in shots {
            let caption = caption(&shot, &title, number, &live, &safe);
            let file = format!("{}.png", shot.label);
            let photo = Message::photo(chat_id, shot.png, &file, &caption)
                .once(format!("screenshot:{version_id}:{chat_id}:{}", shot.label))
                .about(project_id, Some(version_id), MessagePurpose::Screenshot);
            match outbox.put(photo).await {
                Ok(_) => counted("queued"),
                Err(e) => {
                    counted("queue_failed");
                    tracing::warn!(job.id = %job_id, error = %e, "could not queue a screenshot");
                }
            }
        }
    });
}

fn caption(shot: &Shot, title: &str, number: i32, live: &str, safe: &str) -> String {
    let icon = if shot.label == "mobile" {
        "📱"
    } else {
        "🖥"
    };
    format!(
        "{icon} <b>{title}</b> version {number}, {label} ({w}×{h})\n\
         👀 Live preview: {live}\n🛡 Safe view (no scripts): {safe}",
        label = shot.label,
        w = shot.width,
        h = shot.height,
    )
}

fn counted(outcome: &'static str) {
    metrics::counter!("pagesmith_screenshots_total", "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caption_names_the_screen_and_links_both_views() {
        let shot = Shot {
            label: "mobile",
            width: 390,
            height: 844,
            png: Vec::new(),
        };
        let text = caption(
            &shot,
            "Bakery &amp; Co",
            2,
            "https://p.test/p/t/",
            "https://p.test/s/t/",
        );
        assert_eq!(
            text,
            "📱 <b>Bakery &amp; Co</b> version 2, mobile (390×844)\n\
             👀 Live preview: https://p.test/p/t/\n🛡 Safe view (no scripts): https://p.test/s/t/"
        );
    }
}
