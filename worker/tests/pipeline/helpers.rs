//! A worker environment against a fresh database, its own queues, a temp
//! DATA_DIR, a fake Telegram, and a scripted generator.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use pagesmith::{
    config::Env,
    db::{self, generations::DerivedCheck},
    domain::JobPayload,
};
use serde_json::Value;
use testkit::{TestBroker, TestDb, telegram::Telegram};
use uuid::Uuid;
use worker::{
    Settings, Worker,
    environment::Environment,
    generator::{GenerateError, Generated, GeneratedFile, Generator, SiteRequest},
};

pub const CHAT: i64 = 777;
pub const USER: i64 = 777;
pub const STATUS_MESSAGE: i32 = 501;

/// One scripted answer.
#[derive(Clone)]
pub enum Step {
    Files(Vec<(&'static str, String)>),
    Retryable(&'static str),
    Permanent(&'static str),
    /// Waits until notified, then answers with a simple site.
    Block(Arc<tokio::sync::Notify>),
    /// Waits until notified, then fails in a way worth retrying.
    BlockThenRetryable(Arc<tokio::sync::Notify>, &'static str),
}

/// A generator that answers from a script and records what it was asked.
pub struct Scripted {
    name: String,
    script: Mutex<VecDeque<Step>>,
    pub requests: Mutex<Vec<SiteRequest>>,
    pub repairs: Mutex<Vec<Vec<String>>>,
    /// What `derive_checks` answers (the checks it was asked are recorded
    /// in `derivations`).
    pub derived: Mutex<Vec<DerivedCheck>>,
    pub derivations: Mutex<Vec<Vec<String>>>,
}

impl Scripted {
    pub fn new(name: &str, steps: Vec<Step>) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            script: Mutex::new(steps.into()),
            requests: Mutex::default(),
            repairs: Mutex::default(),
            derived: Mutex::default(),
            derivations: Mutex::default(),
        })
    }

    /// Sites written: first generations and repairs.
    pub fn calls(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn repair_calls(&self) -> usize {
        self.repairs.lock().unwrap().len()
    }

    async fn answer(&self) -> Result<Generated, GenerateError> {
        let step = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Step::Files(good_site("Fallback")));
        let files = match step {
            Step::Files(files) => files,
            Step::Retryable(m) => return Err(GenerateError::Retryable(m.into())),
            Step::Permanent(m) => return Err(GenerateError::Permanent(m.into())),
            Step::Block(gate) => {
                gate.notified().await;
                good_site("Unblocked")
            }
            Step::BlockThenRetryable(gate, m) => {
                gate.notified().await;
                return Err(GenerateError::Retryable(m.into()));
            }
        };
        Ok(Generated {
            files: files
                .into_iter()
                .map(|(path, content)| GeneratedFile {
                    path: path.into(),
                    content,
                })
                .collect(),
            raw_output: Some("{\"files\": [...]}".into()),
            generator: self.name.clone(),
            name: None,
        })
    }
}

#[async_trait]
impl Generator for Scripted {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn generate(&self, request: &SiteRequest) -> Result<Generated, GenerateError> {
        self.requests.lock().unwrap().push(request.clone());
        self.answer().await
    }

    async fn repair(
        &self,
        _: &SiteRequest,
        _: &[GeneratedFile],
        problems: &[String],
    ) -> Result<Generated, GenerateError> {
        self.repairs.lock().unwrap().push(problems.to_vec());
        self.answer().await
    }

    async fn derive_checks(
        &self,
        _: &SiteRequest,
        checks: &[String],
    ) -> Result<Vec<DerivedCheck>, GenerateError> {
        self.derivations.lock().unwrap().push(checks.to_vec());
        Ok(self.derived.lock().unwrap().clone())
    }
}

/// A complete site that passes every self-check.
pub fn good_site(title: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "index.html",
            format!(
                "<!DOCTYPE html><html><head><title>{title}</title><link rel=\"stylesheet\" href=\"style.css\"></head>\
                 <body><h1>{title}</h1><script src=\"app.js\"></script></body></html>"
            ),
        ),
        ("style.css", "body { font-family: system-ui; }".into()),
        ("app.js", "document.title += '!';".into()),
        (
            "README.md",
            "# Site\n## Summary\n## Setup\n## Usage\n## Code explanation\n## License\n".into(),
        ),
    ]
}

pub struct TestWorker {
    pub env: Arc<Environment>,
    pub db: TestDb,
    pub broker: TestBroker,
    pub telegram: Telegram,
    pub llm: Arc<Scripted>,
    pub builtin: Arc<Scripted>,
    pub data_dir: tempfile::TempDir,
}

/// A worker whose LLM and built-in generator follow the given scripts.
pub async fn spawn(llm: Vec<Step>, builtin: Vec<Step>, extra: &[(&str, &str)]) -> TestWorker {
    let w = spawn_real(extra).await;
    let llm = Scripted::new("llm:test-model", llm);
    let builtin = Scripted::new("builtin", builtin);
    let mut env = Arc::try_unwrap(w.env).ok().expect("sole owner");
    env.generator = llm.clone();
    env.fallback = builtin.clone();
    TestWorker {
        env: Arc::new(env),
        llm,
        builtin,
        ..w
    }
}

/// A worker with its real generators (the LLM client pointed wherever
/// `extra` says, e.g. testkit's fake via LLM_BASE_URL).
pub async fn spawn_real(extra: &[(&str, &str)]) -> TestWorker {
    testkit::init_tracing();
    let db = TestDb::new().await;
    let broker = TestBroker::new().await;
    // Every message is STATUS_MESSAGE, for replies to name it.
    let telegram = Telegram::start().await;
    telegram.same_message_id(STATUS_MESSAGE.into());
    let data_dir = tempfile::tempdir().unwrap();
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("AMQP_URL".into(), broker.url.clone()),
        ("AMQP_QUEUE_PREFIX".into(), broker.topology.prefix().into()),
        ("DATA_DIR".into(), data_dir.path().display().to_string()),
        ("TELEGRAM_BOT_TOKEN".into(), "4242:test-token".into()),
        ("TELEGRAM_API_URL".into(), telegram.url().to_owned()),
        ("LLM_API_KEY".into(), "sk-test-key-for-the-fake".into()),
        ("PREVIEW_BASE_URL".into(), "https://preview.test".into()),
        ("APP_SECRET".into(), "app-secret-that-must-not-leak".into()),
        // No preview server runs here to screenshot (e2e tests them).
        ("SCREENSHOT_BROWSER".into(), "off".into()),
        // Telegram's pace is tested on its own (`delivery.rs`); here it
        // would only slow every conversation down.
        ("TELEGRAM_PRIVATE_CHAT_INTERVAL_MS".into(), "1".into()),
        ("TELEGRAM_GROUP_CHAT_INTERVAL_MS".into(), "1".into()),
        ("TELEGRAM_MAX_PER_SECOND".into(), "1000".into()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings = Settings::read(Env::from_vars(vars)).expect("test settings");
    let worker = Worker::build(settings).await.expect("worker builds");
    // The delivery loop, as a started worker runs it; it ends with the
    // test's runtime.
    tokio::spawn(worker::telegram::delivery::run(
        worker.env.telegram.clone(),
        worker.env.outbox.clone(),
        worker.env.settings.telegram_pace,
        tokio_util::sync::CancellationToken::new(),
    ));
    TestWorker {
        env: worker.env,
        db,
        broker,
        telegram,
        llm: Scripted::new("unused", Vec::new()),
        builtin: Scripted::new("unused", Vec::new()),
        data_dir,
    }
}

impl TestWorker {
    /// The same worker, publishing through `publisher`.
    pub fn with_publisher(self, publisher: Arc<dyn worker::publish::Publisher>) -> Self {
        let mut env = Arc::try_unwrap(self.env).ok().expect("sole owner");
        env.publisher = publisher;
        Self {
            env: Arc::new(env),
            ..self
        }
    }

    /// A job as the bot records it, without the outbox (tests drive it).
    pub async fn insert_job(&self, payload: JobPayload) -> Uuid {
        let id = Uuid::new_v4();
        let (chat, user) = match &payload {
            JobPayload::Prompt(p) => (Some(p.chat_id), Some(p.user_id)),
            JobPayload::Command(c) => (Some(c.chat_id), Some(c.user_id)),
            JobPayload::Callback(c) => (c.chat_id, Some(c.user_id)),
            JobPayload::App => (None, None),
        };
        sqlx::query("INSERT INTO jobs (id, kind, source, payload, chat_id, user_id) VALUES ($1, $2, 'telegram', $3, $4, $5)")
            .bind(id)
            .bind(payload.kind().as_str())
            .bind(serde_json::to_value(&payload).unwrap())
            .bind(chat)
            .bind(user)
            .execute(&self.db.pool)
            .await
            .unwrap();
        id
    }

    pub async fn prompt(&self, text: &str, reply_to: Option<i32>) -> Uuid {
        self.insert_job(JobPayload::Prompt(pagesmith::domain::job::TelegramPrompt {
            chat_id: CHAT,
            user_id: USER,
            message_id: 1,
            text: text.into(),
            reply_to_message_id: reply_to,
            revise: false,
            user_name: Some("Ada Lovelace".into()),
        }))
        .await
    }

    pub async fn state(&self, job: Uuid) -> String {
        sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// Waits until the delivery loop has sent every queued message that is
    /// due within 2 s (a chat paused for longer stays paused).
    pub async fn settle_telegram(&self) {
        settle_outbox(&self.db.pool).await;
    }

    /// Telegram calls received, as (method, JSON body), once the queued
    /// messages have gone out ([`TestWorker::settle_telegram`]).
    pub async fn telegram_calls(&self) -> Vec<(String, Value)> {
        self.settle_telegram().await;
        self.telegram
            .calls()
            .into_iter()
            .map(|c| (c.method, c.body))
            .collect()
    }

    /// The job's published repository URL and commit.
    pub async fn published_commit(&self, job: Uuid) -> (String, String) {
        sqlx::query_as("SELECT repo_url, commit_sha FROM publishes WHERE job_id = $1")
            .bind(job)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    pub async fn version_of(&self, job: Uuid) -> db::versions::Version {
        db::versions::for_job(&self.db.pool, job)
            .await
            .unwrap()
            .expect("the job has a version")
    }
}

impl TestWorker {
    /// An /app job as the bot records it: the request row and the job.
    pub async fn app_job(
        &self,
        task: &str,
        round: i32,
        nonce: &str,
        evaluation_url: &str,
        deadline_secs: f64,
    ) -> Uuid {
        self.app_job_checking(
            task,
            round,
            nonce,
            evaluation_url,
            deadline_secs,
            &["Repo has MIT license"],
        )
        .await
    }

    /// An /app job whose brief carries `checks`.
    pub async fn app_job_checking(
        &self,
        task: &str,
        round: i32,
        nonce: &str,
        evaluation_url: &str,
        deadline_secs: f64,
        checks: &[&str],
    ) -> Uuid {
        let id = Uuid::new_v4();
        // One transaction: the request row's key on jobs is checked at commit.
        let mut tx = self.db.pool.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO app_requests (job_id, task, round, nonce, email, brief, checks, evaluation_url, received_at, deadline)
             VALUES ($1, $2, $3, $4, 'student@example.com', 'A page that shows the date in #date.', $7,
                     $5, now(), now() + make_interval(secs => $6))",
        )
        .bind(id)
        .bind(task)
        .bind(round)
        .bind(nonce)
        .bind(evaluation_url)
        .bind(deadline_secs)
        .bind(serde_json::to_value(checks).unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO jobs (id, kind, source, payload, deadline)
             SELECT $1, 'generate', 'app', '{\"type\":\"app\"}', deadline FROM app_requests WHERE job_id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }
}

/// Waits (up to 60 s) until no chat is being sent to and no queued message
/// is due within 2 s.
pub async fn settle_outbox(pool: &sqlx::PgPool) {
    let busy = || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM telegram_chats
                             WHERE leased_until > now()
                                OR (next_send_at < now() + interval '2 seconds'
                                    AND chat_id IN (SELECT chat_id FROM telegram_outbox
                                                     WHERE state = 'pending')))",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while busy().await {
        assert!(
            std::time::Instant::now() < deadline,
            "queued Telegram messages were not delivered within 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
