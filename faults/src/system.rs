//! The real `bot`, `worker` and `preview` binaries as separate processes,
//! wired to the private servers and the fakes, with a fresh database, queue
//! prefix and data directory for each scenario.

use std::{
    fs::OpenOptions,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::{evaluator::Evaluator, llm::Llm, telegram::Telegram};
use tokio::process::{Child, Command};

use crate::{Suite, wait};

pub const APP_SECRET: &str = "faults-app-secret";
pub const WEBHOOK_SECRET: &str = "faults-webhook-secret";
const BOT_TOKEN: &str = "4242:faults-token";

/// Where the binaries under test are.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub bot: PathBuf,
    pub worker: PathBuf,
    pub preview: PathBuf,
}

impl Binaries {
    /// `bot`, `worker` and `preview` in `dir`.
    pub fn in_dir(dir: &Path) -> anyhow::Result<Self> {
        let found = |name: &str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                bail!(
                    "{} is missing: build the binaries first (scripts/faults does)",
                    path.display()
                )
            }
        };
        Ok(Self {
            bot: found("bot")?,
            worker: found("worker")?,
            preview: found("preview")?,
        })
    }
}

/// An `/app` request the bot answered 200 to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppKey {
    pub task: String,
    pub round: u32,
    pub nonce: String,
}

/// How to start a [`System`].
#[derive(Debug, Clone)]
pub struct Options {
    pub workers: usize,
    /// `WORKER_CONCURRENCY`; `None` leaves the worker's default.
    pub worker_concurrency: Option<u16>,
    /// How long each LLM call takes.
    pub llm_delay: Duration,
    pub llm_timeout_secs: u64,
    /// Extra variables for every worker (and its restarts).
    pub worker_env: Vec<(String, String)>,
    /// Extra variables for every process (bot, preview and workers).
    pub env: Vec<(String, String)>,
    /// How many preview servers (each on its own address).
    pub previews: usize,
    /// Give every worker and preview a `DATA_DIR` of its own, as on
    /// separate hosts; only the local publisher's directory is shared.
    pub own_data_dirs: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            workers: 1,
            worker_concurrency: Some(4),
            llm_delay: Duration::ZERO,
            llm_timeout_secs: 10,
            worker_env: Vec::new(),
            env: Vec::new(),
            previews: 1,
            own_data_dirs: false,
        }
    }
}

/// One scenario's running system.
pub struct System {
    pub pool: PgPool,
    pub telegram: Telegram,
    pub llm: Llm,
    pub evaluator: Evaluator,
    pub evaluation_url: String,
    pub bot_url: String,
    /// Every preview server's base URL; the first is in the links.
    pub preview_urls: Vec<String>,
    /// `DATA_DIR`, or with `own_data_dirs` the local publisher's shared
    /// directory (`LOCAL_PUBLISH_DIR`).
    pub data_dir: PathBuf,
    pub client: reqwest::Client,
    binaries: Binaries,
    logs: PathBuf,
    env: Vec<(String, String)>,
    worker_env: Vec<(String, String)>,
    processes: Vec<Child>,
    workers: Vec<Option<Child>>,
    own_data_dirs: bool,
}

impl System {
    pub async fn start(suite: &Suite, name: &str, options: Options) -> anyhow::Result<Self> {
        let database = format!("faults_{name}_{}", uuid::Uuid::new_v4().simple());
        let database_url = suite.postgres.create_database(&database).await?;
        let scratch = suite.run_dir.join(name);
        let data_dir = scratch.join("data");
        std::fs::create_dir_all(&data_dir)?;

        let telegram = Telegram::start().await;
        let telegram_url = telegram.url().to_owned();
        let llm = Llm::start().await;
        llm.set_delay(options.llm_delay);
        let llm_url = llm.url().to_owned();
        let (evaluator, evaluation_url) = Evaluator::start().await;

        let bot_addr = format!("127.0.0.1:{}", crate::free_port()?);
        let preview_addrs: Vec<String> = (0..options.previews.max(1))
            .map(|_| Ok(format!("127.0.0.1:{}", crate::free_port()?)))
            .collect::<anyhow::Result<_>>()?;
        let preview_addr = preview_addrs[0].clone();
        let pages_addr = format!("127.0.0.1:{}", crate::free_port()?);
        let mut env: Vec<(String, String)> = [
            ("DATABASE_URL", database_url.clone()),
            ("AMQP_URL", suite.rabbit.url()),
            ("AMQP_QUEUE_PREFIX", format!("{name}.")),
            ("DATA_DIR", data_dir.display().to_string()),
            ("LOCAL_PUBLISH_DIR", data_dir.display().to_string()),
            ("TELEGRAM_BOT_TOKEN", BOT_TOKEN.into()),
            ("TELEGRAM_API_URL", telegram_url),
            ("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
            ("APP_SECRET", APP_SECRET.into()),
            ("CALLBACK_ALLOW_PRIVATE", "true".into()),
            ("LOG_FORMAT", "json".into()),
            ("RUST_LOG", "info".into()),
            ("BOT_ADDR", bot_addr.clone()),
            ("PREVIEW_ADDR", preview_addr.clone()),
            ("PAGES_ADDR", pages_addr.clone()),
            ("PREVIEW_BASE_URL", format!("http://{preview_addr}")),
            ("PAGES_BASE_URL", format!("http://{pages_addr}")),
            ("RELAY_POLL_MS", "100".into()),
            ("LLM_API_KEY", "sk-faults".into()),
            ("LLM_BASE_URL", llm_url),
            ("LLM_MODEL", "faults-model".into()),
            ("LLM_TIMEOUT_SECS", options.llm_timeout_secs.to_string()),
            // The storm sends many prompts from few chats.
            ("CHAT_LLM_PER_HOUR", "0".into()),
            // Screenshots are not under test here, and 700 prompts would
            // start 1,400 browsers.
            ("SCREENSHOT_BROWSER", "off".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(slots) = options.worker_concurrency {
            env.push(("WORKER_CONCURRENCY".into(), slots.to_string()));
        }
        // Later variables win (a process's environment keeps the last).
        env.extend(options.env);

        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect(&database_url)
            .await?;
        let mut system = Self {
            pool,
            telegram,
            llm,
            evaluator,
            evaluation_url,
            bot_url: format!("http://{bot_addr}"),
            preview_urls: preview_addrs
                .iter()
                .map(|a| format!("http://{a}"))
                .collect(),
            data_dir,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(64)
                .build()?,
            binaries: suite.binaries.clone(),
            logs: scratch,
            env,
            worker_env: options.worker_env,
            processes: Vec::new(),
            workers: Vec::new(),
            own_data_dirs: options.own_data_dirs,
        };
        // The bot first: it runs the migrations the others expect.
        let bot = system.spawn("bot", &system.binaries.bot.clone(), &[])?;
        system.processes.push(bot);
        system
            .ready(&system.bot_url.clone(), Duration::from_secs(60))
            .await
            .context("the bot did not become healthy")?;
        for (index, addr) in preview_addrs.iter().enumerate() {
            // Only the first serves the local publisher's pages.
            let mut env = vec![("PREVIEW_ADDR".to_owned(), addr.clone())];
            if index > 0 {
                env.push((
                    "PAGES_ADDR".into(),
                    format!("127.0.0.1:{}", crate::free_port()?),
                ));
            }
            let name = format!("preview{index}");
            env.extend(system.own_data_dir(&name)?);
            let preview = system.spawn(&name, &system.binaries.preview.clone(), &env)?;
            system.processes.push(preview);
            system
                .ready(&format!("http://{addr}"), Duration::from_secs(30))
                .await
                .with_context(|| format!("preview {index} did not become healthy"))?;
        }
        for _ in 0..options.workers {
            system.start_worker(&[]).await?;
        }
        Ok(system)
    }

    /// Starts one more worker (with `extra` variables, e.g. `FAILPOINTS`);
    /// returns its index.
    pub async fn start_worker(&mut self, extra: &[(&str, &str)]) -> anyhow::Result<usize> {
        let metrics = format!("127.0.0.1:{}", crate::free_port()?);
        let mut env: Vec<(String, String)> = self.worker_env.clone();
        env.push(("WORKER_METRICS_ADDR".into(), metrics.clone()));
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let index = self.workers.len();
        env.extend(self.own_data_dir(&format!("worker{index}"))?);
        let child = self.spawn(
            &format!("worker{index}"),
            &self.binaries.worker.clone(),
            &env,
        )?;
        self.workers.push(Some(child));
        self.ready(&format!("http://{metrics}"), Duration::from_secs(30))
            .await
            .with_context(|| format!("worker {index} did not become healthy"))?;
        Ok(index)
    }

    /// With `own_data_dirs`, `DATA_DIR` for process `name` (created).
    fn own_data_dir(&self, name: &str) -> anyhow::Result<Vec<(String, String)>> {
        if !self.own_data_dirs {
            return Ok(Vec::new());
        }
        let dir = self.logs.join(format!("{name}-data"));
        std::fs::create_dir_all(&dir)?;
        Ok(vec![("DATA_DIR".into(), dir.display().to_string())])
    }

    /// `kill -9` a worker, and waits until it is gone.
    pub async fn kill_worker(&mut self, index: usize) -> anyhow::Result<()> {
        let mut child = self.workers[index].take().context("worker already gone")?;
        child.start_kill()?;
        child.wait().await?;
        Ok(())
    }

    /// Stops a worker as `docker stop` does (SIGTERM: runs in flight
    /// finish, nothing new is taken), and waits until it is gone.
    pub async fn stop_worker(&mut self, index: usize) -> anyhow::Result<()> {
        let mut child = self.workers[index].take().context("worker already gone")?;
        if let Some(pid) = child.id() {
            let signalled = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await?;
            anyhow::ensure!(signalled.success(), "kill -TERM {pid} failed");
        }
        tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .context("the worker did not stop within 30 s of SIGTERM")??;
        Ok(())
    }

    fn spawn(
        &self,
        name: &str,
        program: &Path,
        extra: &[(String, String)],
    ) -> anyhow::Result<Child> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{name}.log")))?;
        Command::new(program)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().cloned())
            .envs(extra.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))
    }

    async fn ready(&self, base: &str, timeout: Duration) -> anyhow::Result<()> {
        let url = format!("{base}/health");
        wait::until(timeout, || async {
            matches!(self.client.get(&url).send().await, Ok(r) if r.status().is_success())
        })
        .await
    }

    /// A valid evaluator request whose callback comes to our evaluator.
    pub fn app_request(&self, task: &str, round: u32, nonce: &str) -> Value {
        json!({
            "email": "student@example.com",
            "secret": APP_SECRET,
            "task": task,
            "round": round,
            "nonce": nonce,
            "brief": format!("Publish a page titled {task} that shows the sample data."),
            "checks": ["Repo has MIT license", "README.md is professional"],
            "evaluation_url": self.evaluation_url,
            "attachments": [{"name": "sample.csv", "url": "data:text/csv;base64,bmFtZSxzY29yZQphZGEsMTAK"}]
        })
    }

    /// Posts a round-1 request for `task` (nonce `{task}-nonce`), which must
    /// be accepted; returns its key for the ledger.
    pub async fn submit_app(&self, task: &str) -> anyhow::Result<AppKey> {
        let key = AppKey {
            task: task.to_owned(),
            round: 1,
            nonce: format!("{task}-nonce"),
        };
        let status = self
            .post_app(&self.app_request(&key.task, key.round, &key.nonce))
            .await;
        anyhow::ensure!(
            status.is_some_and(|s| s.as_u16() == 200),
            "/app answered {status:?} for {task}"
        );
        Ok(key)
    }

    /// `POST /app`; `None` when the bot could not be reached at all.
    pub async fn post_app(&self, body: &Value) -> Option<StatusCode> {
        self.client
            .post(format!("{}/app", self.bot_url))
            .json(body)
            .send()
            .await
            .ok()
            .map(|r| r.status())
    }

    /// A Telegram update to the webhook; `None` when unreachable.
    pub async fn post_update(&self, update: &Value) -> Option<StatusCode> {
        self.client
            .post(format!("{}/telegram/webhook", self.bot_url))
            .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
            .json(update)
            .send()
            .await
            .ok()
            .map(|r| r.status())
    }

    /// A job's state, by SQL.
    pub async fn count(&self, sql: &'static str) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(sql).fetch_one(&self.pool).await?)
    }
}

/// A text message from `chat` (a prompt, or a command such as `/help`).
pub fn message_update(update_id: i64, chat: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "Ada"},
            "from": {"id": chat, "is_bot": false, "first_name": "Ada"},
            "text": text
        }
    })
}
