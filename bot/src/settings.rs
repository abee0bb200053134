//! The bot's settings, read from the environment (see `.env.example`).

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

use pagesmith::{
    config::{self, CommonSettings, ConfigError, Env},
    domain::AppRequestLimits,
};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Everything `bot` reads at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    /// `BOT_ADDR` (default `127.0.0.1:8080`).
    pub addr: SocketAddr,
    /// `APP_SECRET`: the shared secret evaluators send in `/app` bodies.
    pub app_secret: SecretString,
    pub telegram: TelegramSettings,
    /// `APP_MAX_BODY_BYTES` (default 25 MiB): larger `/app` bodies get 413.
    pub app_max_body_bytes: usize,
    /// `APP_MAX_ATTACHMENT_BYTES` (default 10 MiB) and
    /// `CALLBACK_ALLOW_PRIVATE` (default false).
    pub app_limits: AppRequestLimits,
    /// `APP_DEADLINE_SECS` (default 600): an `/app` job's callback deadline,
    /// counted from when the request was received.
    pub app_deadline: Duration,
    /// `PREVIEW_BASE_URL` (default `http://127.0.0.1:8081`): where preview
    /// links point.
    pub preview_base_url: Url,
    pub ingest: IngestSettings,
    pub relay: RelaySettings,
}

/// The Telegram side.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    /// `TELEGRAM_BOT_TOKEN`.
    pub token: SecretString,
    /// The numeric id before the token's colon: updates dedupe per bot.
    pub bot_id: i64,
    /// `TELEGRAM_MODE` (default `webhook`): how updates arrive.
    pub mode: TelegramMode,
    /// `TELEGRAM_WEBHOOK_SECRET`: Telegram sends it in
    /// `X-Telegram-Bot-Api-Secret-Token`. Required in webhook mode only.
    pub webhook_secret: SecretString,
    /// `TELEGRAM_API_URL` (default `https://api.telegram.org`).
    pub api_url: Url,
    /// `TELEGRAM_WEBHOOK_URL`: the public URL `bot set-webhook` registers.
    pub webhook_url: Option<Url>,
    /// `TELEGRAM_WEBHOOK_MAX_CONNECTIONS` (default 40, 1-100).
    pub webhook_max_connections: u8,
    /// `TELEGRAM_DEDUPE_TTL_HOURS` (default 72).
    pub dedupe_ttl: Duration,
    /// `TELEGRAM_MAX_BODY_BYTES` (default 1 MiB).
    pub max_body_bytes: usize,
    /// `TELEGRAM_POLL_TIMEOUT_SECS` (default 30, 1-50): how long one
    /// `getUpdates` call waits for updates in polling mode.
    pub poll_timeout: Duration,
}

/// How Telegram's updates reach the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TelegramMode {
    /// Telegram posts each update to `POST /telegram/webhook` (production:
    /// needs a public https URL, registered with `bot set-webhook`).
    #[default]
    Webhook,
    /// The bot long-polls `getUpdates` itself (a laptop behind NAT: no
    /// public URL needed). `/telegram/webhook` answers 409.
    Polling,
}

impl FromStr for TelegramMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        config::parse_word(s, &[("webhook", Self::Webhook), ("polling", Self::Polling)])
    }
}

impl fmt::Display for TelegramMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Webhook => "webhook",
            Self::Polling => "polling",
        })
    }
}

/// How webhook writes are batched into commits.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// `INGEST_MAX_BATCH` (default 256): most updates per commit.
    pub max_batch: usize,
    /// `INGEST_LANES` (default 2): batches committing at once, each lane
    /// owning a share of the update ids. Fewer lanes make larger batches:
    /// on two cores, 1 and 2 lanes took 1.4x the updates/s of 4 and 2x
    /// those of 8 (`scripts/bench-ingress`); two keep one slow commit from
    /// holding every update up.
    pub max_inflight: usize,
}

/// How the outbox relay publishes.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// `RELAY_BATCH` (default 256): rows claimed per round.
    pub batch: i64,
    /// `RELAY_CONFIRM_TIMEOUT_SECS` (default 30): a batch the broker has not
    /// confirmed within this is rolled back and published again.
    pub confirm_timeout: Duration,
    /// `RELAY_POLL_MS` (default 1000): how often the relay looks for rows
    /// when nothing woke it.
    pub poll: Duration,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::from_process())
    }

    /// Reads from any variable source (tests pass a map).
    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonSettings::read(&mut env);
        let addr = env.parse_or("BOT_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)));
        let app_secret = env.required_secret("APP_SECRET");

        let token = env.required_secret("TELEGRAM_BOT_TOKEN");
        let bot_id = match bot_id_of(token.expose_secret()) {
            Some(id) => id,
            None => {
                if !token.expose_secret().is_empty() {
                    env.reject(
                        "TELEGRAM_BOT_TOKEN",
                        "must look like `123456789:AA...` (the bot id, a colon, the secret)",
                    );
                }
                0
            }
        };
        let mode = env.parse_or("TELEGRAM_MODE", TelegramMode::Webhook);
        // Polling needs no webhook, so no secret to authenticate one.
        let webhook_secret = match mode {
            TelegramMode::Webhook => env.required_secret("TELEGRAM_WEBHOOK_SECRET"),
            TelegramMode::Polling => env
                .optional_secret("TELEGRAM_WEBHOOK_SECRET")
                .unwrap_or_else(|| SecretString::from("")),
        };
        let secret = webhook_secret.expose_secret();
        if !secret.is_empty()
            && (secret.len() > 256
                || !secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            env.reject(
                "TELEGRAM_WEBHOOK_SECRET",
                "must be 1-256 characters of A-Z, a-z, 0-9, `_` and `-` (Telegram's rule)",
            );
        }
        let api_url = env.parse_or(
            "TELEGRAM_API_URL",
            Url::parse("https://api.telegram.org").expect("valid default"),
        );
        let webhook_url = env.parse_optional("TELEGRAM_WEBHOOK_URL");
        let webhook_max_connections = env.parse_or("TELEGRAM_WEBHOOK_MAX_CONNECTIONS", 40u8);
        if !(1..=100).contains(&webhook_max_connections) {
            env.reject("TELEGRAM_WEBHOOK_MAX_CONNECTIONS", "must be from 1 to 100");
        }
        let dedupe_hours: u64 = env.parse_or("TELEGRAM_DEDUPE_TTL_HOURS", 72);
        if !(25..=24 * 6).contains(&dedupe_hours) {
            // Telegram retries an update for up to a day and reuses ids only
            // after a week of silence; the TTL must fall between the two.
            env.reject(
                "TELEGRAM_DEDUPE_TTL_HOURS",
                "must be from 25 to 144: longer than Telegram's one-day retry window, shorter than its one-week id reuse",
            );
        }
        let telegram_max_body: usize = env.parse_or("TELEGRAM_MAX_BODY_BYTES", 1024 * 1024);
        let poll_timeout_secs: u64 = env.parse_or("TELEGRAM_POLL_TIMEOUT_SECS", 30);
        if !(1..=50).contains(&poll_timeout_secs) {
            // 0 would be short polling (a request per loop); Telegram holds a
            // long poll for at most 50 s.
            env.reject("TELEGRAM_POLL_TIMEOUT_SECS", "must be from 1 to 50");
        }

        let app_max_body_bytes = env.parse_or("APP_MAX_BODY_BYTES", 25 * 1024 * 1024);
        let app_limits = AppRequestLimits {
            max_attachment_bytes: env.parse_or("APP_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
            allow_private_callbacks: env.flag("CALLBACK_ALLOW_PRIVATE", false),
            ..AppRequestLimits::default()
        };
        let app_deadline = Duration::from_secs(env.parse_or("APP_DEADLINE_SECS", 600));
        let preview_base_url = env.parse_or(
            "PREVIEW_BASE_URL",
            Url::parse("http://127.0.0.1:8081").expect("valid default"),
        );

        let ingest = IngestSettings {
            max_batch: env.parse_or("INGEST_MAX_BATCH", 256usize).max(1),
            max_inflight: env.parse_or("INGEST_LANES", 2usize).clamp(1, 64),
        };
        let relay = RelaySettings {
            batch: env.parse_or("RELAY_BATCH", 256i64).max(1),
            confirm_timeout: Duration::from_secs(
                env.parse_or("RELAY_CONFIRM_TIMEOUT_SECS", 30).max(1),
            ),
            poll: Duration::from_millis(env.parse_or("RELAY_POLL_MS", 1000)),
        };

        env.finish()?;
        Ok(Self {
            common,
            addr,
            app_secret,
            telegram: TelegramSettings {
                token,
                bot_id,
                mode,
                webhook_secret,
                api_url,
                webhook_url,
                webhook_max_connections,
                dedupe_ttl: Duration::from_secs(dedupe_hours * 3600),
                max_body_bytes: telegram_max_body,
                poll_timeout: Duration::from_secs(poll_timeout_secs),
            },
            app_max_body_bytes,
            app_limits,
            app_deadline,
            preview_base_url,
            ingest,
            relay,
        })
    }
}

/// `123456789` from `123456789:AAH...`.
fn bot_id_of(token: &str) -> Option<i64> {
    let (id, secret) = token.split_once(':')?;
    if secret.is_empty() {
        return None;
    }
    id.parse().ok().filter(|id: &i64| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("DATABASE_URL", "postgres://localhost/p"),
            ("AMQP_URL", "amqp://localhost"),
            ("APP_SECRET", "s"),
            ("TELEGRAM_BOT_TOKEN", "123:abc"),
            ("TELEGRAM_WEBHOOK_SECRET", "hook_secret-1"),
        ]
    }

    /// `base()` without `unset`, with `set` (which wins over base values).
    fn changed(
        unset: &[&str],
        set: &[(&'static str, &'static str)],
    ) -> Vec<(&'static str, &'static str)> {
        let mut vars = base();
        vars.retain(|(k, _)| !unset.contains(k));
        vars.extend_from_slice(set);
        vars
    }

    /// The variables `Settings::read` refuses, in order, and its message.
    fn refused(vars: Vec<(&str, &str)>) -> (Vec<String>, String) {
        let err = Settings::read(Env::from_vars(vars)).unwrap_err();
        let message = err.to_string();
        (err.0.into_iter().map(|e| e.name).collect(), message)
    }

    #[test]
    fn minimal_environment_gets_documented_defaults() {
        let s = Settings::read(Env::from_vars(base())).unwrap();
        assert_eq!(s.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.telegram.bot_id, 123);
        assert_eq!(s.telegram.api_url.as_str(), "https://api.telegram.org/");
        assert_eq!(s.app_max_body_bytes, 25 * 1024 * 1024);
        assert_eq!(s.app_deadline, Duration::from_secs(600));
        assert!(!s.app_limits.allow_private_callbacks);
        assert_eq!(s.telegram.mode, TelegramMode::Webhook);
        assert_eq!(s.telegram.poll_timeout, Duration::from_secs(30));
    }

    #[test]
    fn polling_mode_needs_no_webhook_secret() {
        let vars = changed(
            &["TELEGRAM_WEBHOOK_SECRET"],
            &[
                ("TELEGRAM_MODE", "Polling"),
                ("TELEGRAM_POLL_TIMEOUT_SECS", "45"),
            ],
        );
        let s = Settings::read(Env::from_vars(vars)).unwrap();
        assert_eq!(s.telegram.mode, TelegramMode::Polling);
        assert_eq!(s.telegram.poll_timeout, Duration::from_secs(45));
    }

    #[test]
    fn a_bad_mode_or_poll_timeout_is_named() {
        let (names, message) = refused(changed(
            &[],
            &[
                ("TELEGRAM_MODE", "push"),
                ("TELEGRAM_POLL_TIMEOUT_SECS", "0"),
            ],
        ));
        assert_eq!(names, ["TELEGRAM_MODE", "TELEGRAM_POLL_TIMEOUT_SECS"]);
        assert!(
            message.contains("expected one of `webhook`, `polling`"),
            "{message}"
        );
    }

    #[test]
    fn malformed_values_are_named() {
        let (names, _) = refused(changed(
            &["APP_SECRET"],
            &[
                ("TELEGRAM_BOT_TOKEN", "not-a-token"),
                ("TELEGRAM_WEBHOOK_SECRET", "has spaces"),
                ("BOT_ADDR", "localhost"),
            ],
        ));
        assert_eq!(
            names,
            [
                "BOT_ADDR",
                "APP_SECRET",
                "TELEGRAM_BOT_TOKEN",
                "TELEGRAM_WEBHOOK_SECRET"
            ]
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let s = Settings::read(Env::from_vars(base())).unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hook_secret-1"), "{printed}");
        assert!(!printed.contains("123:abc"), "{printed}");
    }
}
