//! What a Telegram user reads when something goes wrong, or when what they
//! sent was not what the bot needs. Each text says in plain words what
//! happened and what to do next; none carries an internal error (those go
//! to the logs and the job's record).
//!
//! A retryable failure's text says only what happened; the consumer adds
//! the next step ([`retrying`] or [`gave_up`]), so "I'm trying again" never
//! ends up beside "I gave up".

use std::time::Duration;

/// The AI service failed or answered with something unusable.
pub const LLM_TROUBLE: &str =
    "The AI service that writes the sites is not answering properly right now.";
/// Publishing ran out of its time.
pub const PUBLISH_SLOW: &str = "Publishing your site is taking longer than expected.";
/// GitHub (or the local publisher) failed in a way that may pass.
pub const PUBLISH_TROUBLE: &str = "GitHub, where your site is published, had a temporary problem.";
/// Writing the bundle failed.
pub const SAVE_TROUBLE: &str = "Saving your site's files failed.";
/// Reading a stored version back failed.
pub const READ_TROUBLE: &str = "I could not read your site's stored files.";
/// PostgreSQL failed.
pub const DATABASE_TROUBLE: &str = "Our database is having trouble.";
/// A run hit `WORKER_RUN_TIMEOUT_SECS`.
pub const RUN_SLOW: &str = "Building your site is taking much longer than it should.";

/// Said after a retryable failure's text when another attempt is coming.
pub fn retrying(attempt: i64, max_attempts: i32) -> String {
    format!(
        "I'll try again in a moment (attempt {attempt} of {max_attempts}); you don't need to do anything."
    )
}

/// Said after a retryable failure's text when the attempts are used up.
pub fn gave_up(attempts: i64) -> String {
    format!(
        "I tried {attempts} times without success, so I stopped; nothing was published. \
         Please send your request again in a few minutes."
    )
}

/// The generated files broke the rules for a static site (bad paths,
/// types or sizes). The details are in the logs.
pub const BAD_MANIFEST: &str = "The AI wrote files I can't accept for a static site (unsafe names, \
     unsupported file types or too much data), so I stopped; nothing was published. \
     Please send your request again, perhaps a little simpler.";

/// The generated files carry something that looks like a secret.
pub const SECRET_IN_SITE: &str = "The generated site contained something that looks like a password or access token, \
     so I refused to store or publish it. Please describe the site again.";

/// The built-in generator failed on this brief.
pub const BUILTIN_FAILED: &str =
    "I could not build this site. Please rephrase the description and try again.";

/// The publisher refused for good (bad credentials, a name taken).
pub const PUBLISH_REFUSED: &str = "GitHub refused to publish your site, so it is not live; your preview links still work. \
     This needs a fix in our publishing settings, so please tell the operator. \
     Once it is fixed, send /revise with your changes to get a new version to approve.";

/// A bug or broken data on our side.
pub const OUR_FAULT: &str = "Something went wrong on our side with this request. \
     Please send it again; if it keeps happening, tell the operator.";

/// The project behind a job is gone.
pub const SITE_GONE: &str =
    "I can't find that site any more. Describe the site you want and I'll build it again.";

/// `/revise` with nothing to revise.
pub const NOTHING_TO_REVISE: &str =
    "There is no site to change yet. Describe the site you want first.";

/// Over the chat's generation allowance.
pub fn rate_limited(wait: Duration) -> String {
    format!(
        "You've asked for a lot of sites in a short time, and each one costs real compute. \
         Please send this again in {}.",
        crate::rate_limit::in_words(wait)
    )
}

/// Under the preview of a version the built-in template wrote because the
/// AI service failed.
pub const FALLBACK_NOTE: &str = "⚠️ The AI service was unavailable, so this is a simple draft from the built-in template. \
     To get an AI-written version, send /revise with your changes in a few minutes.";

/// Under the preview of a version the built-in template wrote because no
/// AI service is configured (no `LLM_API_KEY`).
pub const BUILTIN_NOTE: &str = "ℹ️ This version was made by the built-in template, because no AI service is configured. \
     The operator can set <code>LLM_API_KEY</code> to have sites written by AI; \
     after that, send /revise with your changes to get an AI-written version.";

/// The answer to chatter (a greeting, thanks, emoji, a message too short
/// to describe a site) and to `/new` without a description.
pub const GUIDE: &str = "👋 I build websites from a description. \
     Tell me in a sentence or two what the site is for and what should be on it, e.g.\n\
     <i>A one-page site for my bakery with the menu, opening hours and a contact form</i>\n\n\
     To start a new site from any text, send <code>/new</code> followed by the description. \
     To change a site, reply to my message about it. /help lists everything I can do.";

/// Button answers for a version that cannot be acted on.
pub mod clicks {
    pub const BAD_BUTTON: &str =
        "This button no longer works. Send /status to see your sites and their latest versions.";
    pub const VERSION_GONE: &str =
        "That version no longer exists. Send /status to see your sites and their latest versions.";
    pub const SITE_GONE: &str =
        "That site no longer exists. Describe the site you want and I'll build it again.";
    pub const REJECTED: &str = "This version was rejected, so it can't be published. \
         Send /revise with your changes to get a new version.";
    pub const EXPIRED: &str = "This version's review time ran out, so it can't be published. \
         Send /revise with your changes to get a new version.";
    pub const NOT_READY: &str =
        "This version can't be approved right now. Send /status to see where it stands.";
    pub const CANNOT_REJECT: &str = "This version is no longer waiting for review, so it can't be rejected. \
         Send /status to see where it stands.";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<(&'static str, String)> {
        vec![
            (
                "LLM outage, retrying",
                format!("⏳ {LLM_TROUBLE} {}", retrying(2, 5)),
            ),
            (
                "LLM outage, gave up",
                format!("❌ {LLM_TROUBLE} {}", gave_up(5)),
            ),
            ("LLM outage, fallback", FALLBACK_NOTE.to_owned()),
            (
                "no LLM configured, built-in template",
                BUILTIN_NOTE.to_owned(),
            ),
            ("chatter or a bare /new: guidance", GUIDE.to_owned()),
            (
                "publish slow",
                format!("⏳ {PUBLISH_SLOW} {}", retrying(1, 5)),
            ),
            (
                "publish trouble",
                format!("⏳ {PUBLISH_TROUBLE} {}", retrying(3, 5)),
            ),
            ("publish refused", format!("❌ {PUBLISH_REFUSED}")),
            (
                "save trouble",
                format!("⏳ {SAVE_TROUBLE} {}", retrying(1, 5)),
            ),
            (
                "read trouble",
                format!("⏳ {READ_TROUBLE} {}", retrying(1, 5)),
            ),
            (
                "database trouble",
                format!("❌ {DATABASE_TROUBLE} {}", gave_up(5)),
            ),
            ("run slow", format!("⏳ {RUN_SLOW} {}", retrying(1, 5))),
            ("bad manifest", format!("❌ {BAD_MANIFEST}")),
            ("secret in site", format!("❌ {SECRET_IN_SITE}")),
            ("builtin failed", format!("❌ {BUILTIN_FAILED}")),
            ("our fault", format!("❌ {OUR_FAULT}")),
            ("site gone", format!("❌ {SITE_GONE}")),
            ("nothing to revise", format!("❌ {NOTHING_TO_REVISE}")),
            (
                "rate limited",
                format!("❌ {}", rate_limited(Duration::from_secs(25 * 60))),
            ),
            ("click: bad button", clicks::BAD_BUTTON.to_owned()),
            ("click: version gone", clicks::VERSION_GONE.to_owned()),
            ("click: site gone", clicks::SITE_GONE.to_owned()),
            ("click: rejected", clicks::REJECTED.to_owned()),
            ("click: expired", clicks::EXPIRED.to_owned()),
            ("click: not ready", clicks::NOT_READY.to_owned()),
            ("click: cannot reject", clicks::CANNOT_REJECT.to_owned()),
        ]
    }

    #[test]
    fn every_failure_text_reads_as_written() {
        let listing: String = all()
            .into_iter()
            .map(|(name, text)| format!("## {name}\n{text}\n\n"))
            .collect();
        insta::assert_snapshot!(listing);
    }

    #[test]
    fn every_failure_text_says_what_to_do_and_nothing_internal() {
        let next_steps = [
            "try again",
            "send ",
            "Send ",
            "/revise",
            "/status",
            "don't need to do anything",
            "describe the site",
            "Describe the site",
        ];
        let internal = [
            "error", "Error", "HTTP", "sqlx", "publish:", "LLM:", "panicked", "{", "}", "::",
        ];
        for (name, text) in all() {
            assert!(
                next_steps.iter().any(|step| text.contains(step)),
                "{name} does not say what to do: {text}"
            );
            for word in internal {
                assert!(!text.contains(word), "{name} carries `{word}`: {text}");
            }
        }
    }
}
