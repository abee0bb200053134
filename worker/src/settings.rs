//! The worker's settings, read from the environment (see `.env.example`).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use pagesmith::{
    bundle::StoreSettings,
    config::{CommonSettings, ConfigError, Env},
};
use secrecy::SecretString;
use url::Url;

use crate::{
    browser::{Browser, Timeouts},
    generator::llm::LlmSettings,
    publish::github::GithubSettings,
};

/// Everything `worker` reads at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    /// `WORKER_CONCURRENCY` (default: the machine's cores): CPU slots, for
    /// the checks and bundling (see `slots`).
    pub concurrency: u16,
    /// `LLM_MAX_CONCURRENT` (default 64): LLM calls at once, whatever the
    /// cores; bounded by what the provider allows.
    pub llm_max_concurrent: u16,
    /// `WORKER_INTERACTIVE_CONCURRENCY` (default 8): commands and clicks at once.
    pub interactive_concurrency: u16,
    /// `JOB_MAX_ATTEMPTS` (default 5): deliveries before a job fails.
    pub max_attempts: i32,
    /// `WORKER_RUN_TIMEOUT_SECS` (default 900): the longest one delivery may
    /// run. A delivery's ack is held until it ends, so this must stay below
    /// RabbitMQ's `consumer_timeout` (30 minutes by default).
    pub run_timeout: Duration,
    /// Present when `LLM_API_KEY` is set; otherwise the built-in generator
    /// writes every site.
    pub llm: Option<LlmSettings>,
    /// `CHAT_LLM_PER_HOUR` (default 30; 0 turns the limit off) and
    /// `CHAT_LLM_BURST` (default 5): LLM generations a Telegram chat may
    /// start, to protect the LLM budget. `None` when off.
    pub chat_llm_quota: Option<(std::num::NonZeroU32, std::num::NonZeroU32)>,
    /// `TELEGRAM_BOT_TOKEN`: without it, nothing is sent to Telegram.
    pub telegram_token: Option<SecretString>,
    /// `TELEGRAM_API_URL` (default `https://api.telegram.org`).
    pub telegram_api_url: Url,
    /// `TELEGRAM_PRIVATE_CHAT_INTERVAL_MS` (default 1000),
    /// `TELEGRAM_GROUP_CHAT_INTERVAL_MS` (default 3000, 20 a minute) and
    /// `TELEGRAM_MAX_PER_SECOND` (default 30): how fast messages go out.
    pub telegram_pace: crate::telegram::Pace,
    /// `PREVIEW_BASE_URL` (default `http://127.0.0.1:8081`).
    pub preview_base_url: Url,
    /// `PREVIEW_TTL_DAYS` (default 30): how long preview links work.
    pub preview_ttl: Duration,
    /// `BUNDLE_STORE_URL` and `BUNDLE_CACHE_MB`: where bundles are written.
    pub bundle_store: StoreSettings,
    /// `REVIEWER_CHAT_ID`: where /app jobs are announced (and reviewed).
    pub reviewer_chat_id: Option<i64>,
    /// `REVIEWER_USER_IDS`: comma-separated users who may approve anything.
    pub reviewer_user_ids: Vec<i64>,
    pub limits: SiteLimits,
    /// `PUBLISHER` (`local` or `github`; default `github` when
    /// `GITHUB_TOKEN` is set, else `local`).
    pub publisher: PublisherChoice,
    /// `PAGES_BASE_URL` (default `http://127.0.0.1:8082`): where the local
    /// publisher's repositories and pages are served.
    pub pages_base_url: Url,
    /// `LOCAL_PUBLISH_DIR` (default `DATA_DIR`): where the local publisher
    /// keeps repositories and pages; the preview serves them from there, so
    /// with several hosts it is the one shared directory (a development aid:
    /// production publishes to GitHub).
    pub local_publish_dir: PathBuf,
    /// `APP_REQUIRE_REVIEW` (default false): /app jobs wait for a reviewer
    /// in `REVIEWER_CHAT_ID` instead of publishing automatically.
    pub app_require_review: bool,
    /// `APP_REVIEW_MARGIN_SECS` (default 180): an /app job still unapproved
    /// this long before its deadline expires.
    pub app_review_margin: Duration,
    /// `PAGES_CUTOFF_SECS` (default 480): how long after an /app request the
    /// callback waits for Pages at most.
    pub pages_cutoff: Duration,
    /// `APP_PUBLISH_RESERVE_SECS` (default 150): time kept before an /app
    /// deadline for publishing and the callback; generation gets the rest.
    pub app_publish_reserve: Duration,
    /// `CALLBACK_ALLOW_PRIVATE` (default false).
    pub callback_allow_private: bool,
    /// `WORKER_METRICS_ADDR` (default `127.0.0.1:9102`): where `GET /metrics`
    /// and `GET /health` are served.
    pub metrics_addr: SocketAddr,
    /// `WORKER_JOBS_GAUGE_SECS` (default 15): how often the jobs-by-state
    /// gauge is counted from PostgreSQL.
    pub jobs_gauge_interval: Duration,
    /// `BROWSER` (formerly `SCREENSHOT_BROWSER`): headless Chromium, for the
    /// behaviour checks of every version and the screenshots of ready ones.
    /// A path, or `off`; unset, the usual names are looked up on `PATH`.
    /// Without one, behaviour checks are reported as not run.
    /// `BROWSER_TIMEOUT_SECS` (default 20) bounds a whole page run and
    /// `BROWSER_CHECK_TIMEOUT_MS` (default 3000) each check.
    pub browser: Option<Browser>,
    /// `SCREENSHOTS` (default on, with a browser): desktop and mobile photos
    /// under each ready message, queued like any other message.
    pub screenshots: bool,
    /// `REPAIR_ROUNDS` (default 2, at most 5): repair rounds an LLM-written
    /// site gets while checks fail.
    pub repair_rounds: i32,
    /// Our own secrets, which must never appear in a generated file:
    /// `APP_SECRET`, `TELEGRAM_WEBHOOK_SECRET`, `GITHUB_TOKEN` (when set)
    /// and the tokens above.
    pub own_secrets: Vec<SecretString>,
}

/// Which publisher publishes.
#[derive(Debug, Clone)]
pub enum PublisherChoice {
    Local,
    Github(GithubSettings),
}

/// Caps on a generated site.
#[derive(Debug, Clone)]
pub struct SiteLimits {
    /// `SITE_MAX_FILES` (default 100).
    pub max_files: usize,
    /// `SITE_MAX_FILE_BYTES` (default 5 MiB) for a generated file;
    /// attachments are capped at the door instead.
    pub max_file_bytes: usize,
    /// `SITE_MAX_TOTAL_BYTES` (default 50 MiB), attachments included.
    pub max_total_bytes: usize,
}

impl Default for SiteLimits {
    fn default() -> Self {
        Self {
            max_files: 100,
            max_file_bytes: 5 * 1024 * 1024,
            max_total_bytes: 50 * 1024 * 1024,
        }
    }
}

impl Settings {
    /// Whether `user` may decide on, or roll back, a site `owner` asked
    /// for: the owner, or a configured reviewer.
    pub fn may_decide(&self, owner: Option<i64>, user: i64) -> bool {
        owner == Some(user) || self.reviewer_user_ids.contains(&user)
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::from_process())
    }

    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonSettings::read(&mut env);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let concurrency = env
            .parse_or(
                "WORKER_CONCURRENCY",
                u16::try_from(cores).unwrap_or(u16::MAX),
            )
            .max(1);
        let llm_max_concurrent = env.parse_or("LLM_MAX_CONCURRENT", 64u16);
        if !(1..=1000).contains(&llm_max_concurrent) {
            env.reject("LLM_MAX_CONCURRENT", "must be from 1 to 1000");
        }
        let interactive_concurrency = env.parse_or("WORKER_INTERACTIVE_CONCURRENCY", 8u16).max(1);
        let max_attempts = env.parse_or("JOB_MAX_ATTEMPTS", 5i32).max(1);
        let run_timeout =
            Duration::from_secs(env.parse_or("WORKER_RUN_TIMEOUT_SECS", 900u64).max(10));
        if run_timeout >= Duration::from_secs(30 * 60) {
            env.reject(
                "WORKER_RUN_TIMEOUT_SECS",
                "must stay below RabbitMQ's consumer_timeout (1800 s by default)",
            );
        }

        let llm_key = env.optional_secret("LLM_API_KEY");
        let llm_base_url = env.parse_or(
            "LLM_BASE_URL",
            Url::parse(LlmSettings::DEFAULT_BASE_URL).expect("valid default"),
        );
        let llm_model = env
            .optional("LLM_MODEL")
            .unwrap_or_else(|| LlmSettings::DEFAULT_MODEL.to_owned());
        let llm_timeout = Duration::from_secs(
            env.parse_or("LLM_TIMEOUT_SECS", LlmSettings::DEFAULT_TIMEOUT.as_secs())
                .max(1),
        );
        let llm = llm_key.map(|api_key| LlmSettings {
            base_url: llm_base_url,
            api_key,
            model: llm_model,
            timeout: llm_timeout,
        });

        let telegram_token = env.optional_secret("TELEGRAM_BOT_TOKEN");
        let telegram_api_url = env.parse_or(
            "TELEGRAM_API_URL",
            Url::parse("https://api.telegram.org").expect("valid default"),
        );
        let default_pace = crate::telegram::Pace::default();
        let mut interval = |name: &str, default: Duration| {
            let ms: u64 = env.parse_or(name, default.as_millis() as u64);
            if !(1..=600_000).contains(&ms) {
                env.reject(name, "must be from 1 to 600000 (milliseconds)");
            }
            Duration::from_millis(ms.clamp(1, 600_000))
        };
        let telegram_pace = crate::telegram::Pace {
            private_chat: interval(
                "TELEGRAM_PRIVATE_CHAT_INTERVAL_MS",
                default_pace.private_chat,
            ),
            group_chat: interval("TELEGRAM_GROUP_CHAT_INTERVAL_MS", default_pace.group_chat),
            overall_per_second: {
                let rate: u32 =
                    env.parse_or("TELEGRAM_MAX_PER_SECOND", default_pace.overall_per_second);
                if !(1..=1000).contains(&rate) {
                    env.reject("TELEGRAM_MAX_PER_SECOND", "must be from 1 to 1000");
                }
                rate.clamp(1, 1000)
            },
        };
        let preview_base_url = env.parse_or(
            "PREVIEW_BASE_URL",
            Url::parse("http://127.0.0.1:8081").expect("valid default"),
        );
        // The worker stores each version's expiry; the preview only honours
        // it, so this is the one place the setting is read.
        let ttl_days: u64 = env.parse_or("PREVIEW_TTL_DAYS", 30);
        if !(1..=365).contains(&ttl_days) {
            env.reject("PREVIEW_TTL_DAYS", "must be from 1 to 365 (days)");
        }
        let preview_ttl = Duration::from_secs(ttl_days.clamp(1, 365) * 86_400);
        let bundle_store = StoreSettings::read(&mut env, &common.data_dir);
        let local_publish_dir = env.parse_or("LOCAL_PUBLISH_DIR", common.data_dir.clone());
        let reviewer_chat_id = env.parse_optional("REVIEWER_CHAT_ID");
        let reviewer_user_ids = match env.optional("REVIEWER_USER_IDS") {
            None => Vec::new(),
            Some(raw) => {
                let parsed: Result<Vec<i64>, _> =
                    raw.split(',').map(|s| s.trim().parse::<i64>()).collect();
                parsed.unwrap_or_else(|_| {
                    env.reject(
                        "REVIEWER_USER_IDS",
                        "must be comma-separated Telegram user ids",
                    );
                    Vec::new()
                })
            }
        };
        let limits = SiteLimits {
            max_files: env.parse_or("SITE_MAX_FILES", SiteLimits::default().max_files),
            max_file_bytes: env
                .parse_or("SITE_MAX_FILE_BYTES", SiteLimits::default().max_file_bytes),
            max_total_bytes: env.parse_or(
                "SITE_MAX_TOTAL_BYTES",
                SiteLimits::default().max_total_bytes,
            ),
        };
        let github_token = env.optional_secret("GITHUB_TOKEN");
        let publisher = match (env.optional("PUBLISHER").as_deref(), github_token) {
            (Some("local"), _) | (None, None) => PublisherChoice::Local,
            (Some("github") | None, Some(token)) => {
                let owner = env.required("GITHUB_OWNER");
                let api_url = env.parse_or(
                    "GITHUB_API_URL",
                    Url::parse("https://api.github.com").expect("valid default"),
                );
                PublisherChoice::Github(GithubSettings {
                    token,
                    owner,
                    api_url,
                })
            }
            (Some("github"), None) => {
                env.reject("GITHUB_TOKEN", "is required when PUBLISHER=github");
                PublisherChoice::Local
            }
            (Some(other), _) => {
                env.reject(
                    "PUBLISHER",
                    format!("must be `local` or `github`, not `{other}`"),
                );
                PublisherChoice::Local
            }
        };
        let pages_base_url = env.parse_or(
            "PAGES_BASE_URL",
            Url::parse("http://127.0.0.1:8082").expect("valid default"),
        );
        let app_require_review = env.flag("APP_REQUIRE_REVIEW", false);
        let app_review_margin = Duration::from_secs(env.parse_or("APP_REVIEW_MARGIN_SECS", 180));
        let pages_cutoff = Duration::from_secs(env.parse_or("PAGES_CUTOFF_SECS", 480));
        let app_publish_reserve =
            Duration::from_secs(env.parse_or("APP_PUBLISH_RESERVE_SECS", 150));
        let callback_allow_private = env.flag("CALLBACK_ALLOW_PRIVATE", false);
        if app_require_review && reviewer_chat_id.is_none() {
            env.reject(
                "REVIEWER_CHAT_ID",
                "is required when APP_REQUIRE_REVIEW=true",
            );
        }

        let per_hour: u32 = env.parse_or("CHAT_LLM_PER_HOUR", 30);
        let burst: u32 = env.parse_or("CHAT_LLM_BURST", 5);
        let chat_llm_quota = match (
            std::num::NonZeroU32::new(per_hour),
            std::num::NonZeroU32::new(burst),
        ) {
            (None, _) => None,
            (Some(_), None) => {
                env.reject("CHAT_LLM_BURST", "must be at least 1");
                None
            }
            (Some(per_hour), Some(burst)) => Some((per_hour, burst)),
        };

        let metrics_addr = env.parse_or(
            "WORKER_METRICS_ADDR",
            SocketAddr::from(([127, 0, 0, 1], 9102)),
        );
        let jobs_gauge_interval =
            Duration::from_secs(env.parse_or("WORKER_JOBS_GAUGE_SECS", 15u64).max(1));

        let screenshots = env.parse_or("SCREENSHOTS", true);
        let repair_rounds = env.parse_or("REPAIR_ROUNDS", 2i32);
        if !(0..=5).contains(&repair_rounds) {
            env.reject("REPAIR_ROUNDS", "must be 0 to 5");
        }
        let timeouts = Timeouts {
            run: Duration::from_secs(env.parse_or("BROWSER_TIMEOUT_SECS", 20u64).max(2)),
            check: Duration::from_millis(
                env.parse_or("BROWSER_CHECK_TIMEOUT_MS", 3000u64).max(100),
            ),
            ..Timeouts::default()
        };
        let (browser_var, browser_path) = match env.optional("BROWSER") {
            Some(path) => ("BROWSER", Some(path)),
            None => ("SCREENSHOT_BROWSER", env.optional("SCREENSHOT_BROWSER")),
        };
        let browser = match browser_path.as_deref().map(str::trim) {
            Some("off" | "none") => None,
            Some(path) if PathBuf::from(path).is_file() => {
                Some(Browser::new(path.into(), timeouts))
            }
            Some(path) => {
                env.reject(
                    browser_var,
                    format!("{path} is not a file: give Chromium's path, or `off`"),
                );
                None
            }
            None => Browser::find().map(|path| Browser::new(path, timeouts)),
        };

        let mut own_secrets: Vec<SecretString> =
            ["APP_SECRET", "TELEGRAM_WEBHOOK_SECRET", "GITHUB_TOKEN"]
                .iter()
                .filter_map(|name| env.optional_secret(name))
                .collect();
        own_secrets.extend(telegram_token.clone());
        own_secrets.extend(llm.as_ref().map(|l| l.api_key.clone()));

        env.finish()?;
        Ok(Self {
            common,
            concurrency,
            llm_max_concurrent: llm_max_concurrent.clamp(1, 1000),
            interactive_concurrency,
            max_attempts,
            run_timeout,
            llm,
            chat_llm_quota,
            telegram_token,
            telegram_api_url,
            telegram_pace,
            preview_base_url,
            preview_ttl,
            bundle_store,
            local_publish_dir,
            reviewer_chat_id,
            reviewer_user_ids,
            limits,
            publisher,
            pages_base_url,
            app_require_review,
            app_review_margin,
            pages_cutoff,
            app_publish_reserve,
            callback_allow_private,
            metrics_addr,
            browser,
            screenshots,
            repair_rounds,
            jobs_gauge_interval,
            own_secrets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("DATABASE_URL", "postgres://localhost/p"),
            ("AMQP_URL", "amqp://localhost"),
        ]
    }

    #[test]
    fn without_an_llm_key_the_builtin_generator_is_used() {
        let s = Settings::read(Env::from_vars(base())).unwrap();
        assert!(s.llm.is_none());
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(usize::from(s.concurrency), cores);
        assert_eq!(s.llm_max_concurrent, 64);
        assert_eq!(s.preview_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(s.metrics_addr.to_string(), "127.0.0.1:9102");
        assert_eq!(s.jobs_gauge_interval, Duration::from_secs(15));
    }

    #[test]
    fn an_llm_key_enables_the_llm_with_its_settings() {
        let mut vars = base();
        vars.extend([
            ("LLM_API_KEY", "sk-test"),
            ("LLM_BASE_URL", "http://localhost:11434/v1"),
            ("LLM_MODEL", "llama3"),
        ]);
        let s = Settings::read(Env::from_vars(vars)).unwrap();
        let llm = s.llm.unwrap();
        assert_eq!(llm.model, "llama3");
        assert_eq!(llm.base_url.as_str(), "http://localhost:11434/v1");
        assert_eq!(s.own_secrets.len(), 1, "the LLM key is one of our secrets");
    }

    #[test]
    fn the_publisher_follows_the_github_token_unless_told_otherwise() {
        let s = Settings::read(Env::from_vars(base())).unwrap();
        assert!(matches!(s.publisher, PublisherChoice::Local));

        let mut vars = base();
        vars.extend([("GITHUB_TOKEN", "ghp_x"), ("GITHUB_OWNER", "octo")]);
        let s = Settings::read(Env::from_vars(vars.clone())).unwrap();
        assert!(matches!(s.publisher, PublisherChoice::Github(ref g) if g.owner == "octo"));

        vars.push(("PUBLISHER", "local"));
        assert!(matches!(
            Settings::read(Env::from_vars(vars)).unwrap().publisher,
            PublisherChoice::Local
        ));

        let mut vars = base();
        vars.push(("PUBLISHER", "github"));
        let err = Settings::read(Env::from_vars(vars)).unwrap_err();
        assert_eq!(err.0[0].name, "GITHUB_TOKEN");
    }

    #[test]
    fn the_browser_is_off_a_path_or_an_error_naming_it() {
        let mut vars = base();
        vars.push(("BROWSER", "off"));
        assert!(
            Settings::read(Env::from_vars(vars))
                .unwrap()
                .browser
                .is_none()
        );

        let mut vars = base();
        vars.push(("BROWSER", "/bin/sh"));
        let browser = Settings::read(Env::from_vars(vars)).unwrap().browser;
        assert_eq!(browser.unwrap().path(), std::path::Path::new("/bin/sh"));

        for name in ["BROWSER", "SCREENSHOT_BROWSER"] {
            let mut vars = base();
            vars.push((name, "/nonexistent/chromium"));
            let err = Settings::read(Env::from_vars(vars)).unwrap_err();
            assert_eq!(err.0[0].name, name);
            assert!(err.0[0].problem.contains("/nonexistent/chromium"), "{err}");
        }

        // The older name still works, and BROWSER wins over it.
        let mut vars = base();
        vars.push(("SCREENSHOT_BROWSER", "off"));
        assert!(
            Settings::read(Env::from_vars(vars))
                .unwrap()
                .browser
                .is_none()
        );
        let mut vars = base();
        vars.extend([("SCREENSHOT_BROWSER", "off"), ("BROWSER", "/bin/sh")]);
        assert!(
            Settings::read(Env::from_vars(vars))
                .unwrap()
                .browser
                .is_some()
        );
    }

    #[test]
    fn preview_ttl_days_out_of_range_is_named() {
        for bad in ["0", "400", "a month"] {
            let mut vars = base();
            vars.push(("PREVIEW_TTL_DAYS", bad));
            let err = Settings::read(Env::from_vars(vars)).unwrap_err();
            assert_eq!(err.0[0].name, "PREVIEW_TTL_DAYS", "{bad}");
        }
        let mut vars = base();
        vars.push(("PREVIEW_TTL_DAYS", "365"));
        let settings = Settings::read(Env::from_vars(vars)).unwrap();
        assert_eq!(settings.preview_ttl, Duration::from_secs(365 * 86_400));
    }

    #[test]
    fn repair_rounds_and_browser_timeouts_are_read_and_bounded() {
        let settings = Settings::read(Env::from_vars(base())).unwrap();
        assert_eq!(settings.repair_rounds, 2);
        let mut vars = base();
        vars.extend([
            ("REPAIR_ROUNDS", "0"),
            ("BROWSER", "/bin/sh"),
            ("BROWSER_TIMEOUT_SECS", "7"),
            ("BROWSER_CHECK_TIMEOUT_MS", "250"),
        ]);
        let settings = Settings::read(Env::from_vars(vars)).unwrap();
        assert_eq!(settings.repair_rounds, 0);
        let timeouts = settings.browser.unwrap().timeouts();
        assert_eq!(timeouts.run, Duration::from_secs(7));
        assert_eq!(timeouts.check, Duration::from_millis(250));

        for bad in ["6", "-1", "two"] {
            let mut vars = base();
            vars.push(("REPAIR_ROUNDS", bad));
            let err = Settings::read(Env::from_vars(vars)).unwrap_err();
            assert_eq!(err.0[0].name, "REPAIR_ROUNDS", "{bad}");
        }
    }

    #[test]
    fn malformed_reviewers_and_timeouts_are_named() {
        let mut vars = base();
        vars.extend([
            ("REVIEWER_USER_IDS", "12, bob"),
            ("WORKER_RUN_TIMEOUT_SECS", "3600"),
            ("WORKER_METRICS_ADDR", "localhost"),
        ]);
        let err = Settings::read(Env::from_vars(vars)).unwrap_err();
        let names: Vec<_> = err.0.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "WORKER_RUN_TIMEOUT_SECS",
                "REVIEWER_USER_IDS",
                "WORKER_METRICS_ADDR"
            ]
        );
    }
}
