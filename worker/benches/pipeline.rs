//! Worker pipeline benchmark: prompt → preview_ready with an instant fake
//! LLM, at several WORKER_CONCURRENCY values.
//!
//! ```text
//! scripts/bench-worker                    # 200 jobs per concurrency
//! BENCH_JOBS=400 scripts/bench-worker
//! BENCH_ONLY=browser scripts/bench-worker # only the browser step, below
//! ```
//!
//! The browser step: prompts sent one at a time to an idle worker, each
//! timed from the job's insert to its version committed (prompt → ready),
//! with the browser off and on, side by side in one run, for the built-in
//! generator and for the 20-file LLM site (`BENCH_BROWSER_JOBS`, 20 each).
//!
//! Each run: a fresh database and queues, N prompt jobs published to the
//! jobs queue at once, the real consumer with the real OpenAI-compatible
//! client pointed at a local fake that answers at once with a 20-file,
//! ~200 KB site (different for every job, so nothing is deduplicated), and
//! a fake Telegram. Reported per concurrency: jobs per second (first start
//! to last version), and p50/p99 of the pipeline time per job (from the
//! worker picking it up to its version committed; the fake LLM's answer
//! takes about a millisecond of that).

use std::time::Duration;

use pagesmith::{
    config::Env,
    domain::{JobKind, JobMessage, JobPayload, WorkQueue, job::TelegramPrompt},
    queue::{ConfirmedChannel, Outgoing},
};
use serde_json::json;
use testkit::{
    TestBroker, TestDb,
    llm::{Llm, Reply},
    telegram::Telegram,
};
use tokio_util::sync::CancellationToken;
use worker::{Settings, Worker};

/// A distinct 20-file site for chat completion `n`.
fn twenty_files(n: usize) -> Reply {
    let filler = format!("/* site {n} */ ") + &"lorem ipsum dolor sit amet ".repeat(370);
    let mut files = vec![
        json!({"path": "index.html", "content": format!(
            "<!DOCTYPE html><html><head><title>Site {n}</title><link rel=\"stylesheet\" href=\"css/site.css\"></head>\
             <body><h1>Site {n}</h1><p>{}</p><script src=\"js/app.js\"></script></body></html>", &filler[..2000])}),
        json!({"path": "css/site.css", "content": format!("/* {n} */ body {{ margin: 0 }} {filler}")}),
        // The filler holds `*/`, which would end a comment early: the
        // browser check caught that (a SyntaxError on every page).
        json!({"path": "js/app.js", "content": format!("// {n}\nconsole.log('hi');\n/* {} */", filler.replace("*/", ""))}),
        json!({"path": "README.md", "content": format!("# Site {n}\n## Summary\n## Setup\n## Usage\n## Code explanation\n## License\n{filler}")}),
    ];
    for i in 0..16 {
        files.push(json!({"path": format!("pages/page{i}.html"), "content": format!(
            "<!DOCTYPE html><html><head><title>Page {i} of {n}</title></head><body><p>{filler}</p></body></html>")}));
    }
    Reply::completion(&json!({ "files": files }).to_string())
}

#[tokio::main]
async fn main() {
    pagesmith::telemetry::init(pagesmith::telemetry::LogFormat::Pretty);
    let jobs: usize = std::env::var("BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only != "browser" {
        pipeline(jobs).await;
    }
    browser_step().await;
}

async fn pipeline(jobs: usize) {
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

/// A worker on a fresh database and queues, with `extra` settings.
struct Bench {
    db: TestDb,
    broker: TestBroker,
    _data_dir: tempfile::TempDir,
    _llm: Llm,
    worker: Worker,
}

async fn bench_worker(extra: Vec<(&'static str, String)>) -> Bench {
    let db = TestDb::new().await;
    let broker = TestBroker::new().await;
    let data_dir = tempfile::tempdir().unwrap();
    let llm = Llm::start().await;
    llm.reply_with(twenty_files);
    let mut vars = vec![
        ("DATABASE_URL", db.url.clone()),
        ("AMQP_URL", broker.url.clone()),
        ("AMQP_QUEUE_PREFIX", broker.topology.prefix().to_owned()),
        ("DATA_DIR", data_dir.path().display().to_string()),
        ("LLM_BASE_URL", llm.url().to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("SCREENSHOTS", "false".to_owned()),
    ];
    vars.extend(extra);
    let settings = Settings::read(Env::from_vars(vars)).unwrap();
    let worker = Worker::build(settings).await.unwrap();
    Bench {
        db,
        broker,
        _data_dir: data_dir,
        _llm: llm,
        worker,
    }
}

/// Inserts prompt job `i` (chat and user `1000 + i`) saying `text`.
async fn insert_prompt(bench: &Bench, i: usize, text: &str) -> uuid::Uuid {
    let id = uuid::Uuid::new_v4();
    let chat = 1000 + i as i64;
    let payload = JobPayload::Prompt(TelegramPrompt {
        chat_id: chat,
        user_id: chat,
        message_id: 1,
        text: text.to_owned(),
        reply_to_message_id: None,
        revise: false,
        user_name: None,
    });
    sqlx::query("INSERT INTO jobs (id, kind, source, payload, chat_id, user_id) VALUES ($1, 'generate', 'telegram', $2, $3, $3)")
        .bind(id)
        .bind(serde_json::to_value(payload).unwrap())
        .bind(chat)
        .execute(&bench.db.pool)
        .await
        .unwrap();
    id
}

/// The jobs-queue message for job `id`.
fn job_message(bench: &Bench, id: uuid::Uuid) -> Outgoing {
    Outgoing {
        queue: bench.broker.topology.work(WorkQueue::Jobs),
        body: serde_json::to_vec(&JobMessage {
            job_id: id,
            kind: JobKind::Generate,
        })
        .unwrap(),
        ..Outgoing::default()
    }
}

/// Inserts prompt job `i` and publishes its message.
async fn send_prompt(bench: &Bench, channel: &ConfirmedChannel, i: usize) -> uuid::Uuid {
    let text = format!("A bakery called Crumb {i} with opening hours, a menu and a contact form");
    let id = insert_prompt(bench, i, &text).await;
    for result in channel.publish_all(&[job_message(bench, id)]).await {
        result.unwrap();
    }
    id
}

/// Prompt → ready, one prompt at a time, browser off and on.
async fn browser_step() {
    let jobs: usize = std::env::var("BENCH_BROWSER_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let Some(chromium) = worker::browser::Browser::find() else {
        println!("browser step: skipped, no Chromium on PATH");
        return;
    };
    println!(
        "\nbrowser step: {jobs} prompts one at a time, prompt → ready (job inserted → version committed)"
    );
    println!(
        "{:>24} {:>9} {:>10} {:>10} {:>10} {:>14}",
        "generator", "browser", "p50 ms", "p99 ms", "max ms", "checks run"
    );
    for (label, llm) in [("built-in", false), ("LLM, 20 files", true)] {
        for browser in ["off", chromium.to_str().unwrap()] {
            let mut extra = vec![("BROWSER", browser.to_owned())];
            if llm {
                extra.push(("LLM_API_KEY", "bench".to_owned()));
            }
            let bench = bench_worker(extra).await;
            let connection = lapin::Connection::connect(
                &bench.broker.url,
                lapin::ConnectionProperties::default(),
            )
            .await
            .unwrap();
            let channel = ConfirmedChannel::open(&connection).await.unwrap();
            let stop = CancellationToken::new();
            let consuming = tokio::spawn(worker::consumer::run(
                bench.worker.env.clone(),
                stop.clone(),
            ));
            let mut latencies = Vec::with_capacity(jobs);
            let mut ran = 0usize;
            for i in 0..jobs {
                let id = send_prompt(&bench, &channel, i).await;
                let (ms, browser_checks): (f64, i64) = loop {
                    let row: Option<(f64, i64)> = sqlx::query_as(
                        "SELECT EXTRACT(EPOCH FROM v.created_at - j.created_at)::float8 * 1000,
                                (SELECT count(*) FROM jsonb_array_elements(v.checks) c
                                 WHERE c->>'kind' = 'browser' AND c->>'detail' NOT LIKE 'not run%')
                         FROM jobs j JOIN versions v ON v.job_id = j.id WHERE j.id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&bench.db.pool)
                    .await
                    .unwrap();
                    if let Some(row) = row {
                        break row;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                };
                latencies.push(ms);
                ran += usize::from(browser_checks > 0);
            }
            stop.cancel();
            let _ = consuming.await;
            latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let pct = |p: f64| {
                latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)]
            };
            println!(
                "{label:>24} {:>9} {:>10.0} {:>10.0} {:>10.0} {:>14}",
                if browser == "off" { "off" } else { "on" },
                pct(0.50),
                pct(0.99),
                latencies[latencies.len() - 1],
                format!("{ran}/{jobs}"),
            );
        }
    }
}

async fn run(jobs: usize, concurrency: u16, with_telegram: bool) {
    let telegram = Telegram::start().await;
    let mut extra = vec![
        ("DATABASE_MAX_CONNECTIONS", "40".to_owned()),
        ("LLM_API_KEY", "bench".to_owned()),
        ("TELEGRAM_API_URL", telegram.url().to_owned()),
        ("WORKER_CONCURRENCY", concurrency.to_string()),
        // The browser step is measured on its own (`browser_step`).
        ("BROWSER", "off".to_owned()),
    ];
    // Without a token the worker queues nothing for Telegram: the pipeline
    // alone. With one, each job queues its messages (PostgreSQL inserts);
    // the delivery loop sends them beside the jobs.
    if with_telegram {
        extra.push(("TELEGRAM_BOT_TOKEN", "1:bench".to_owned()));
    }
    let bench = bench_worker(extra).await;
    let (db, broker) = (&bench.db, &bench.broker);

    let mut ids = Vec::with_capacity(jobs);
    for i in 0..jobs {
        ids.push(insert_prompt(&bench, i, &format!("A site number {i}")).await);
    }
    let connection =
        lapin::Connection::connect(&broker.url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = ConfirmedChannel::open(&connection).await.unwrap();
    let messages: Vec<Outgoing> = ids.iter().map(|id| job_message(&bench, *id)).collect();
    for result in channel.publish_all(&messages).await {
        result.unwrap();
    }

    let stop = CancellationToken::new();
    let consuming = tokio::spawn(worker::consumer::run(
        bench.worker.env.clone(),
        stop.clone(),
    ));
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
