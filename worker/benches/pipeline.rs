//! Worker pipeline benchmark: prompt → preview_ready with an instant fake
//! LLM, at several WORKER_CONCURRENCY values.
//!
//! ```text
//! scripts/bench-worker                    # 200 jobs per concurrency
//! BENCH_JOBS=400 scripts/bench-worker
//! ```
//!
//! Each run: a fresh database and queues, N prompt jobs published to the
//! jobs queue at once, the real consumer with the real OpenAI-compatible
//! client pointed at a local fake that answers at once with a 20-file,
//! ~200 KB site (different for every job, so nothing is deduplicated), and
//! a fake Telegram. Reported per concurrency: jobs per second (first start
//! to last version), and p50/p99 of the pipeline time per job (from the
//! worker picking it up to its version committed; the fake LLM's answer
//! takes about a millisecond of that).

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use pagesmith::{
    config::Env,
    domain::{JobKind, JobMessage, JobPayload, WorkQueue, job::TelegramPrompt},
    queue::{ConfirmedChannel, Outgoing},
};
use serde_json::json;
use testkit::{TestBroker, TestDb};
use tokio_util::sync::CancellationToken;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::method};
use worker::{Settings, Worker};

/// Answers every chat completion with a distinct 20-file site.
struct InstantLlm {
    served: AtomicU64,
}

impl Respond for InstantLlm {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.served.fetch_add(1, Ordering::Relaxed);
        let filler = format!("/* site {n} */ ") + &"lorem ipsum dolor sit amet ".repeat(370);
        let mut files = vec![
            json!({"path": "index.html", "content": format!(
                "<!DOCTYPE html><html><head><title>Site {n}</title><link rel=\"stylesheet\" href=\"css/site.css\"></head>\
                 <body><h1>Site {n}</h1><p>{}</p><script src=\"js/app.js\"></script></body></html>", &filler[..2000])}),
            json!({"path": "css/site.css", "content": format!("/* {n} */ body {{ margin: 0 }} {filler}")}),
            json!({"path": "js/app.js", "content": format!("// {n}\nconsole.log('hi'); /* {filler} */")}),
            json!({"path": "README.md", "content": format!("# Site {n}\n## Summary\n## Setup\n## Usage\n## Code explanation\n## License\n{filler}")}),
        ];
        for i in 0..16 {
            files.push(json!({"path": format!("pages/page{i}.html"), "content": format!(
                "<!DOCTYPE html><html><head><title>Page {i} of {n}</title></head><body><p>{filler}</p></body></html>")}));
        }
        let content = json!({ "files": files }).to_string();
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "bench", "object": "chat.completion", "model": "instant",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]
        }))
    }
}

#[tokio::main]
async fn main() {
    pagesmith::telemetry::init(pagesmith::telemetry::LogFormat::Pretty);
    let jobs: usize = std::env::var("BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    println!(
        "worker pipeline benchmark: {jobs} jobs per run, 20-file ~200 KB sites, instant fake LLM"
    );
    println!(
        "{:>12} {:>10} {:>10} {:>10} {:>12}",
        "concurrency", "jobs/s", "p50 ms", "p99 ms", "site KB"
    );
    for with_telegram in [true, false] {
        println!(
            "{}",
            match with_telegram {
                true => "with Telegram status messages (a local fake Bot API):",
                false => "the pipeline alone (no Telegram token):",
            }
        );
        for concurrency in [1u16, 4, 16] {
            run(jobs, concurrency, with_telegram).await;
        }
    }
}

async fn run(jobs: usize, concurrency: u16, with_telegram: bool) {
    let db = TestDb::new().await;
    let broker = TestBroker::new().await;
    let data_dir = tempfile::tempdir().unwrap();
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(InstantLlm {
            served: AtomicU64::new(0),
        })
        .mount(&llm)
        .await;
    let telegram = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": {
            "message_id": 1, "date": 0, "chat": {"id": 1, "type": "private", "first_name": "a"}, "text": "ok"}})))
        .mount(&telegram)
        .await;
    let mut vars = vec![
        ("DATABASE_URL", db.url.clone()),
        ("DATABASE_MAX_CONNECTIONS", "40".to_owned()),
        ("AMQP_URL", broker.url.clone()),
        ("AMQP_QUEUE_PREFIX", broker.topology.prefix().to_owned()),
        ("DATA_DIR", data_dir.path().display().to_string()),
        ("LLM_API_KEY", "bench".to_owned()),
        ("LLM_BASE_URL", format!("{}/v1", llm.uri())),
        ("TELEGRAM_API_URL", telegram.uri()),
        ("WORKER_CONCURRENCY", concurrency.to_string()),
        ("LOG_FORMAT", "json".to_owned()),
        // Screenshots run beside jobs, not in the pipeline measured here.
        ("SCREENSHOT_BROWSER", "off".to_owned()),
    ];
    // Without a token the worker sends nothing to Telegram: the pipeline
    // alone, without the Bot API client's pacing (its Throttle adaptor
    // releases queued sends on a 250 ms tick).
    if with_telegram {
        vars.push(("TELEGRAM_BOT_TOKEN", "1:bench".to_owned()));
    }
    let settings = Settings::read(Env::from_vars(vars)).unwrap();
    let worker = Worker::build(settings).await.unwrap();

    let mut ids = Vec::with_capacity(jobs);
    for i in 0..jobs {
        let id = uuid::Uuid::new_v4();
        let payload = JobPayload::Prompt(TelegramPrompt {
            chat_id: 1000 + i as i64,
            user_id: 1000 + i as i64,
            message_id: 1,
            text: format!("A site number {i}"),
            reply_to_message_id: None,
            revise: false,
            user_name: None,
        });
        sqlx::query("INSERT INTO jobs (id, kind, source, payload, chat_id, user_id) VALUES ($1, 'generate', 'telegram', $2, $3, $3)")
            .bind(id)
            .bind(serde_json::to_value(payload).unwrap())
            .bind(1000 + i as i64)
            .execute(&db.pool)
            .await
            .unwrap();
        ids.push(id);
    }
    let connection =
        lapin::Connection::connect(&broker.url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = ConfirmedChannel::open(&connection).await.unwrap();
    let messages: Vec<Outgoing> = ids
        .iter()
        .map(|id| Outgoing {
            queue: broker.topology.work(WorkQueue::Jobs),
            body: serde_json::to_vec(&JobMessage {
                job_id: *id,
                kind: JobKind::Generate,
            })
            .unwrap(),
            ..Outgoing::default()
        })
        .collect();
    for result in channel.publish_all(&messages).await {
        result.unwrap();
    }

    let stop = CancellationToken::new();
    let consuming = tokio::spawn(worker::consumer::run(worker.env.clone(), stop.clone()));
    loop {
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM versions")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if done as usize >= jobs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    let _ = consuming.await;

    let rows: Vec<(f64, f64, f64, i64)> = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM j.started_at)::float8, EXTRACT(EPOCH FROM v.created_at)::float8,
                EXTRACT(EPOCH FROM v.created_at - j.started_at)::float8 * 1000,
                (SELECT sum((f->>'size')::bigint) FROM jsonb_array_elements(v.files) f)::bigint
         FROM jobs j JOIN versions v ON v.job_id = j.id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let first = rows.iter().map(|r| r.0).fold(f64::MAX, f64::min);
    let last = rows.iter().map(|r| r.1).fold(f64::MIN, f64::max);
    let mut latencies: Vec<f64> = rows.iter().map(|r| r.2).collect();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let size_kb = rows.iter().map(|r| r.3).sum::<i64>() as f64 / rows.len() as f64 / 1024.0;
    println!(
        "{concurrency:>12} {:>10.1} {:>10.1} {:>10.1} {:>12.0}",
        jobs as f64 / (last - first),
        pct(0.50),
        pct(0.99),
        size_kb
    );
}
