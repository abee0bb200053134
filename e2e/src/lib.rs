//! The whole system in one process: the real `bot`, `worker` and `preview`
//! libraries, wired as their binaries wire them, against a fresh
//! PostgreSQL database and isolated RabbitMQ queues. Only what lives on the
//! internet is faked: the Telegram Bot API and the evaluator (testkit's
//! fakes, which record every call and when it came).
//!
//! The worker runs the embedded defaults: the built-in generator and the
//! local publisher, whose repositories and pages the preview binary serves
//! on its pages address.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use pagesmith::config::Env;
use serde_json::{Value, json};
pub use testkit::evaluator::{Callback, Evaluator};
use testkit::telegram::{Answer, Telegram};
use testkit::{TestBroker, TestDb};
use tokio_util::sync::CancellationToken;

pub mod bot_api;

pub const APP_SECRET: &str = "e2e-app-secret";
pub const WEBHOOK_SECRET: &str = "e2e-webhook-secret";
pub const BOT_TOKEN: &str = "4242:e2e-token";

/// Options for [`Stack::start`].
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// `WORKER_CONCURRENCY` of the one worker.
    pub worker_concurrency: u16,
    /// Extra variables for the worker.
    pub worker_env: Vec<(&'static str, String)>,
    /// Extra variables for the bot (`TELEGRAM_MODE=polling`, ...).
    pub bot_env: Vec<(&'static str, String)>,
    /// The status every fake Bot API call answers with (an error's body
    /// unless 200).
    pub telegram_status: u16,
    /// A Bot API of the test's own (the [`bot_api::BotApi`] emulator) for
    /// `TELEGRAM_API_URL` of all three, instead of testkit's fake
    /// ([`Stack::telegram`], which then gets no calls).
    pub telegram_api_url: Option<String>,
    /// Route the bot's and the preview's PostgreSQL connections through a
    /// [`testkit::TcpProxy`] ([`Stack::db_proxy`]), so a test can cut them.
    pub proxy_database: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            worker_concurrency: 4,
            worker_env: Vec::new(),
            bot_env: Vec::new(),
            telegram_status: 200,
            telegram_api_url: None,
            proxy_database: false,
        }
    }
}

/// bot + worker + preview, running until dropped.
pub struct Stack {
    pub bot: SocketAddr,
    pub preview: SocketAddr,
    /// The worker's `/metrics` and `/health`.
    pub worker_metrics: SocketAddr,
    /// Between the bot and preview and PostgreSQL, with
    /// [`StackOptions::proxy_database`].
    pub db_proxy: Option<testkit::TcpProxy>,
    pub pages: SocketAddr,
    pub evaluator: Evaluator,
    evaluation_url: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub data_dir: PathBuf,
    _broker: TestBroker,
    pub telegram: Telegram,
    _scratch: tempfile::TempDir,
    stop: CancellationToken,
}

impl Stack {
    pub async fn start(options: StackOptions) -> Self {
        testkit::init_tracing();
        let stop = CancellationToken::new();
        let db = TestDb::new().await;
        let broker = TestBroker::new().await;
        let telegram = Telegram::start().await;
        if options.telegram_status != 200 {
            telegram.answer_every(None, Answer::error(options.telegram_status));
        }
        let telegram_api_url = options
            .telegram_api_url
            .clone()
            .unwrap_or_else(|| telegram.url().to_owned());
        let scratch = tempfile::tempdir().expect("scratch dir");
        let data_dir = scratch.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let (evaluator, evaluation_url) = Evaluator::start().await;

        let db_proxy = match options.proxy_database {
            true => Some(testkit::TcpProxy::start_for_url(&db.url).await),
            false => None,
        };
        // Later variables override earlier ones (`Env` is a map).
        let front_db_url = db_proxy
            .as_ref()
            .map_or_else(|| db.url.clone(), |proxy| db.url_via(proxy.addr()));
        let shared = |extra: Vec<(&'static str, String)>| {
            let mut vars = vec![
                ("DATABASE_URL", db.url.clone()),
                ("AMQP_URL", broker.url.clone()),
                ("AMQP_QUEUE_PREFIX", broker.topology.prefix().to_owned()),
                ("DATA_DIR", data_dir.display().to_string()),
                ("TELEGRAM_BOT_TOKEN", BOT_TOKEN.to_owned()),
                ("TELEGRAM_API_URL", telegram_api_url.clone()),
                ("APP_SECRET", APP_SECRET.to_owned()),
                // The evaluator is on 127.0.0.1.
                ("CALLBACK_ALLOW_PRIVATE", "true".to_owned()),
            ];
            vars.extend(extra);
            Env::from_vars(vars)
        };

        // The preview first: its addresses go into the others' settings.
        let preview = preview::Application::build(
            preview::Settings::read(shared(vec![
                ("DATABASE_URL", front_db_url.clone()),
                ("PREVIEW_ADDR", "127.0.0.1:0".into()),
                ("PAGES_ADDR", "127.0.0.1:0".into()),
            ]))
            .expect("preview settings"),
        )
        .await
        .expect("preview builds");
        let (preview_addr, pages_addr) = (preview.local_addr(), preview.pages_addr());
        let preview_base = format!("http://{preview_addr}");
        tokio::spawn(preview.run_until(stop.clone().cancelled_owned()));

        let mut bot_env = vec![
            ("DATABASE_URL", front_db_url),
            ("BOT_ADDR", "127.0.0.1:0".into()),
            ("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
            ("PREVIEW_BASE_URL", preview_base.clone()),
            ("RELAY_POLL_MS", "100".into()),
        ];
        bot_env.extend(options.bot_env);
        let bot =
            bot::Application::build(bot::Settings::read(shared(bot_env)).expect("bot settings"))
                .await
                .expect("bot builds");
        let bot_addr = bot.local_addr();
        tokio::spawn(bot.run_until(stop.clone().cancelled_owned()));

        let mut worker_env = vec![
            ("PREVIEW_BASE_URL", preview_base),
            ("PAGES_BASE_URL", format!("http://{pages_addr}")),
            ("WORKER_METRICS_ADDR", "127.0.0.1:0".into()),
            ("WORKER_CONCURRENCY", options.worker_concurrency.to_string()),
            // Only the screenshot tests want Chromium; they name it.
            ("SCREENSHOT_BROWSER", "off".into()),
        ];
        worker_env.extend(options.worker_env);
        let worker = worker::Worker::build(
            worker::Settings::read(shared(worker_env)).expect("worker settings"),
        )
        .await
        .expect("worker builds")
        .start()
        .await
        .expect("worker starts");
        let worker_metrics = worker.metrics_addr();
        tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));

        Self {
            bot: bot_addr,
            preview: preview_addr,
            worker_metrics,
            db_proxy,
            pages: pages_addr,
            evaluator,
            evaluation_url,
            client: reqwest::Client::new(),
            db,
            data_dir,
            _broker: broker,
            telegram,
            _scratch: scratch,
            stop,
        }
    }

    /// A valid evaluator request whose callback comes to our evaluator.
    pub fn app_request(&self, task: &str, round: i64, nonce: &str, brief: &str) -> Value {
        json!({
            "email": "student@example.com",
            "secret": APP_SECRET,
            "task": task,
            "round": round,
            "nonce": nonce,
            "brief": brief,
            "checks": ["Repo has MIT license", "README.md is professional"],
            "evaluation_url": self.evaluation_url,
            "attachments": [{
                "name": "sample.csv",
                "url": "data:text/csv;base64,bmFtZSxzY29yZQphZGEsMTAKYm9iLDcK"
            }]
        })
    }

    /// A Telegram update to the bot's webhook, with the right secret.
    pub async fn post_update(&self, update: &Value) -> reqwest::Response {
        self.client
            .post(format!("http://{}/telegram/webhook", self.bot))
            .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
            .json(update)
            .send()
            .await
            .expect("bot answers")
    }

    /// `POST /app` to the bot.
    pub async fn post_app(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("http://{}/app", self.bot))
            .json(body)
            .send()
            .await
            .expect("bot answers")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A Telegram text message from Ada (chat and user 42), as an update.
pub fn prompt_update(update_id: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": 1, "date": 1_700_000_000,
            "chat": {"id": 42, "type": "private", "first_name": "Ada"},
            "from": {"id": 42, "is_bot": false, "first_name": "Ada"},
            "text": text
        }
    })
}

/// Every log line a test's subscriber writes (see
/// `pagesmith::telemetry::init_to`), kept in memory.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Installs the global subscriber (JSON, `filter`) writing here. The
    /// first subscriber of a process wins, so a test binary capturing logs
    /// holds one test.
    pub fn install(filter: &str) -> Self {
        let logs = Self::default();
        let writer = logs.clone();
        pagesmith::telemetry::init_to(pagesmith::telemetry::LogFormat::Json, filter, move || {
            writer.clone()
        });
        logs
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

/// One scrape of a Prometheus `/metrics` page: every sample by name and
/// label set. Histograms (rendered as summaries) read as `<name>_count`
/// and `<name>_sum`.
#[derive(Debug, Clone, Default)]
pub struct Scrape(BTreeMap<(String, BTreeMap<String, String>), f64>);

impl Scrape {
    /// `GET {url}` and parse it.
    pub async fn get(client: &reqwest::Client, url: &str) -> Self {
        let response = client.get(url).send().await.expect("/metrics answers");
        assert_eq!(response.status(), 200, "{url}");
        Self::parse(&response.text().await.expect("a text body"))
    }

    /// Parses the text format (label values here never hold `,` or `"`).
    pub fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                .collect();
            samples.insert((name.to_owned(), labels), value.parse().expect("a number"));
        }
        Self(samples)
    }

    /// The sample with exactly these labels; 0 when there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0
            .get(&(name.to_owned(), labels))
            .copied()
            .unwrap_or(0.0)
    }

    /// How much the sample grew since `before`.
    pub fn delta(&self, before: &Self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels) - before.value(name, labels)
    }
}

/// Every file under `dir`, as paths relative to it, skipping `.git`.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("readable dir") {
            let entry = entry.expect("dir entry");
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            if entry.file_type().expect("file type").is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).expect("below dir");
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}
