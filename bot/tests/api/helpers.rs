//! Spawns the real bot on a free port against a fresh database and its own
//! queues, optionally through proxies that a test can cut.

use std::{net::SocketAddr, time::Duration};

use bot::{Application, Settings};
use pagesmith::{config::Env, domain::WorkQueue};
use serde_json::{Value, json};
use testkit::{TakenMessage, TcpProxy, TestBroker, TestDb};
use tokio::sync::oneshot;

pub const WEBHOOK_SECRET: &str = "webhook-secret_42";
pub const APP_SECRET: &str = "app-secret";
pub const BOT_ID: i64 = 4242;
pub const BOT_TOKEN: &str = "4242:test-token";

pub struct TestBot {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub broker: TestBroker,
    /// Present when spawned with `proxy_database`.
    pub db_proxy: Option<TcpProxy>,
    /// Present when spawned with `proxy_broker`.
    pub broker_proxy: Option<TcpProxy>,
    shutdown: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
pub struct Options {
    pub proxy_database: bool,
    pub proxy_broker: bool,
    pub env: Vec<(&'static str, String)>,
}

pub async fn spawn_bot() -> TestBot {
    spawn_bot_with(Options::default()).await
}

pub async fn spawn_bot_with(options: Options) -> TestBot {
    testkit::init_tracing();
    let db = TestDb::new().await;
    let broker = TestBroker::new().await;
    let db_proxy = match options.proxy_database {
        true => Some(TcpProxy::start_for_url(&db.url).await),
        false => None,
    };
    let broker_proxy = match options.proxy_broker {
        true => Some(TcpProxy::start_for_url(&broker.url).await),
        false => None,
    };
    let database_url = db_proxy
        .as_ref()
        .map_or(db.url.clone(), |p| db.url_via(p.addr()));
    let amqp_url = broker_proxy
        .as_ref()
        .map_or(broker.url.clone(), |p| broker.url_via(p.addr()));

    let mut vars: Vec<(&str, String)> = vec![
        ("DATABASE_URL", database_url),
        ("AMQP_URL", amqp_url),
        ("AMQP_QUEUE_PREFIX", broker.topology.prefix().to_owned()),
        ("BOT_ADDR", "127.0.0.1:0".into()),
        ("APP_SECRET", APP_SECRET.into()),
        ("TELEGRAM_BOT_TOKEN", BOT_TOKEN.into()),
        ("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
        ("CALLBACK_ALLOW_PRIVATE", "true".into()),
        ("RELAY_POLL_MS", "100".into()),
    ];
    vars.extend(options.env);
    let settings = Settings::read(Env::from_vars(vars)).expect("test settings are valid");
    let app = Application::build(settings).await.expect("bot builds");
    let addr = app.local_addr();
    let (shutdown, stopped) = oneshot::channel();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let bot = TestBot {
        addr,
        client: reqwest::Client::new(),
        db,
        broker,
        db_proxy,
        broker_proxy,
        shutdown: Some(shutdown),
    };
    bot.wait_until_healthy().await;
    bot
}

impl TestBot {
    /// Waits for `/health` to say 200, which means the relay has connected
    /// and declared its queues. A test that ended before that could see the
    /// relay's declarations land after `TestBroker` deleted the queues, and
    /// leave them on the broker.
    async fn wait_until_healthy(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let status = self.client.get(self.url("/health")).send().await;
            if status.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot did not become healthy within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post_update(&self, update: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/telegram/webhook"))
            .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
            .json(update)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_app(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/app"))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.db.pool)
            .await
            .expect("count query")
    }

    pub fn queue(&self, queue: WorkQueue) -> String {
        self.broker.topology.work(queue)
    }

    /// Takes every message published to `queue`, expecting `n`.
    pub async fn take(&self, queue: WorkQueue, n: usize) -> Vec<TakenMessage> {
        self.broker
            .take(&self.queue(queue), n, Duration::from_secs(20))
            .await
    }
}

impl Drop for TestBot {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A text message update as Telegram sends it.
pub fn text_update(update_id: i64, user_id: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": message(update_id, user_id, text)
    })
}

pub fn message(message_id: i64, user_id: i64, text: &str) -> Value {
    json!({
        "message_id": message_id,
        "date": 1_700_000_000,
        "chat": {"id": user_id, "type": "private", "first_name": "Ada"},
        "from": {"id": user_id, "is_bot": false, "first_name": "Ada"},
        "text": text
    })
}

/// A click on an inline button under one of the bot's messages.
pub fn callback_update(update_id: i64, user_id: i64, data: &str) -> Value {
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("cbq-{update_id}"),
            "from": {"id": user_id, "is_bot": false, "first_name": "Ada"},
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": 77,
                "date": 1_700_000_000,
                "chat": {"id": user_id, "type": "private", "first_name": "Ada"},
                "from": {"id": BOT_ID, "is_bot": true, "first_name": "pagesmith"},
                "text": "Your site is ready"
            }
        }
    })
}

/// A valid /app body.
pub fn app_request(task: &str, round: i64, nonce: &str) -> Value {
    json!({
        "email": "student@example.com",
        "secret": APP_SECRET,
        "task": task,
        "round": round,
        "nonce": nonce,
        "brief": "Publish a page titled Hello that shows today's date in #date.",
        "checks": ["Repo has MIT license", "Page has #date"],
        "evaluation_url": "http://127.0.0.1:9/notify",
        "attachments": []
    })
}

/// Gives an /app job a ready version (token `tok123`, one of two checks
/// passed), as the worker would.
pub async fn make_ready(bot: &TestBot, job_id: uuid::Uuid, task: &str) {
    let project = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO projects (id, source, task, owner_name, title, brief) VALUES ($1, 'app', $2, 'a', 't', 'b')")
        .bind(project)
        .bind(task)
        .execute(&bot.db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO versions (id, project_id, job_id, number, generator, files, bundle, checks, preview_token, expires_at)
         VALUES ($1, $2, $3, 1, 'builtin', '[]', 'b', $4, 'tok123', now() + interval '1 day')",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(project)
    .bind(job_id)
    // A version recorded before kinds existed reads as a static check.
    .bind(json!([
        {"name": "HTML parses", "passed": true, "detail": "every HTML file is a complete document"},
        {"name": "js: document.title === 'X'", "kind": "browser", "passed": false,
         "detail": "returned false; `document.title` is 'Y'"},
        {"name": "The page shows the total", "kind": "derived", "passed": true, "detail": "true"}
    ]))
    .execute(&bot.db.pool)
    .await
    .unwrap();
}
