//! Desktop and mobile screenshots of a ready version's live preview, sent to
//! the chat as photos right under the ready message, captioned with both
//! preview links: the first thing a reviewer sees.
//!
//! They run beside the job, never in its way: the job (and an `/app` job's
//! publish and callback) goes on at once, and no browser, a preview that
//! does not serve the page, a browser failure or Telegram trouble is only
//! logged (and counted in `pagesmith_screenshots_total`); a photo Telegram
//! has not taken within `SCREENSHOT_TIMEOUT_SECS` is given up. They follow a
//! ready message sent for the first time, so a redelivered job sends no
//! second set. Each photo is recorded like the ready message, so a reply to
//! it asks for changes to the same site.

use pagesmith::db::{self, versions::Version};

use super::{notify::preview_urls, resolve::Context};
use crate::{
    browser::Shot,
    environment::Environment,
    telegram::{TelegramError, escape},
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
    let telegram = env.telegram.clone();
    let pool = env.pool.clone();
    let (live, safe) = preview_urls(&env.settings.preview_base_url, &version.preview_token);
    let title = escape(&ctx.project.title);
    let number = version.number;
    let upload_limit = env.settings.screenshot_timeout;
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
        // teloxide waits out every `429 retry_after` itself, for as long as
        // Telegram asks; a photo gets SCREENSHOT_TIMEOUT_SECS, then it is stale.
        let budget = upload_limit;
        for shot in shots {
            let caption = caption(&shot, &title, number, &live, &safe);
            let file = format!("{}.png", shot.label);
            let sent = tokio::time::timeout(
                budget,
                telegram.send_photo(chat_id, &shot.png, &file, &caption),
            )
            .await
            .unwrap_or_else(|_| {
                Err(TelegramError::Unreachable(format!(
                    "no answer to sendPhoto within {budget:?}"
                )))
            });
            match sent {
                Ok(message_id) => {
                    counted("sent");
                    if let Err(e) = db::chat::record(
                        &pool,
                        chat_id,
                        message_id,
                        project_id,
                        Some(version_id),
                        "screenshot",
                    )
                    .await
                    {
                        tracing::warn!(job.id = %job_id, error = %e, "could not record a screenshot");
                    }
                }
                Err(e) => {
                    counted("send_failed");
                    tracing::warn!(job.id = %job_id, error = %e, "could not send a screenshot");
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
