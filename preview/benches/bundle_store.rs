//! The preview's throughput with bundles in an S3 store, cold and warm,
//! beside bundles on local disk, in one run:
//!
//! - **cold**: every request is the first for its bundle, which the preview
//!   fetches from the store (manifest and content), checks and keeps;
//! - **warm**: the same requests again, from the local copy and memory;
//! - **file**: the same bundles from a preview reading them on local disk.
//!
//! ```text
//! scripts/bench-store              # BENCH_SITES=200, 16 connections
//! ```
//!
//! The store is moto's S3 server (`TEST_S3_ENDPOINT`, started by the
//! script): a Python server on this machine, so "cold" measures a slow
//! store; a real S3 adds its round trips instead.

use std::time::{Duration, Instant};

use futures::StreamExt;
use pagesmith::{
    bundle::{BundleFile, Bundles},
    config::Env,
    domain::SitePath,
};
use testkit::{TestBucket, TestDb};

const CONNECTIONS: usize = 16;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let sites: usize = std::env::var("BENCH_SITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let bucket = TestBucket::new()
        .await
        .expect("an S3 test server: run through scripts/bench-store");
    let db = TestDb::new().await;
    let scratch = tempfile::tempdir().unwrap();

    // The worker's side: every bundle written to the store (and, as its
    // local copy, to disk, which the file-store preview reads).
    let written_to = scratch.path().join("worker");
    let worker = Bundles::remote(&written_to, bucket.store(None), "bench", u64::MAX).await;
    let mut tokens = Vec::with_capacity(sites);
    for n in 0..sites {
        let written = worker.write(site(n)).await.expect("bundle written");
        tokens.push(testkit::versions::record(&db.pool, &written).await.token);
    }

    let s3 = start_preview(&db, scratch.path().join("s3"), bucket.env("bench")).await;
    let file = start_preview(
        &db,
        scratch.path().join("file"),
        vec![(
            "BUNDLE_STORE_URL",
            format!("file://{}", written_to.display()),
        )],
    )
    .await;

    let client = reqwest::Client::new();
    println!("preview GET /p/{{token}}/index.html, {sites} sites, {CONNECTIONS} connections");
    println!("{:>22} {:>10} {:>10}", "run", "requests", "req/s");
    let cold = run(&client, &s3, &tokens, 1).await;
    let warm = run(&client, &s3, &tokens, 5).await;
    let disk_first = run(&client, &file, &tokens, 1).await;
    let disk = run(&client, &file, &tokens, 5).await;
    for (name, (requests, took)) in [
        ("s3, cold (fetched)", cold),
        ("s3, warm", warm),
        ("file, first request", disk_first),
        ("file, warm", disk),
    ] {
        println!(
            "{name:>22} {requests:>10} {:>10.0}",
            requests as f64 / took.as_secs_f64()
        );
    }
}

/// A site of about 30 KB, different for each `n`.
fn site(n: usize) -> Vec<BundleFile> {
    let file = |path: &str, bytes: Vec<u8>| BundleFile {
        path: SitePath::parse(path).unwrap(),
        bytes,
    };
    let rows: String = (0..120)
        .map(|i| format!("<tr><td>site {n}</td><td>row {i}</td></tr>"))
        .collect();
    vec![
        file(
            "index.html",
            format!("<!doctype html><title>Site {n}</title><table>{rows}</table>").into_bytes(),
        ),
        file(
            "style.css",
            format!("/* {n} */ td {{ padding: 4px }}\n")
                .repeat(400)
                .into_bytes(),
        ),
    ]
}

async fn start_preview(
    db: &TestDb,
    data_dir: std::path::PathBuf,
    store: Vec<(&'static str, String)>,
) -> String {
    std::fs::create_dir_all(&data_dir).unwrap();
    let mut vars = vec![
        ("DATABASE_URL", db.url.clone()),
        ("DATA_DIR", data_dir.display().to_string()),
        ("PREVIEW_ADDR", "127.0.0.1:0".into()),
        ("PAGES_ADDR", "127.0.0.1:0".into()),
        ("LOG_FORMAT", "json".into()),
    ];
    vars.extend(store);
    let settings = preview::Settings::read(Env::from_vars(vars)).expect("preview settings");
    let app = preview::Application::build(settings)
        .await
        .expect("preview builds");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until(std::future::pending()));
    base
}

/// GETs every token's page `rounds` times, `CONNECTIONS` at once; returns
/// how many requests and how long they took. Every answer must be a 200.
async fn run(
    client: &reqwest::Client,
    base: &str,
    tokens: &[String],
    rounds: usize,
) -> (usize, Duration) {
    let urls: Vec<String> = (0..rounds)
        .flat_map(|_| tokens.iter().map(|t| format!("{base}/p/{t}/index.html")))
        .collect();
    let started = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(urls.iter())
        .map(|url| async move {
            let response = client.get(url).send().await.expect("request");
            let status = response.status().as_u16();
            let _ = response.bytes().await;
            status
        })
        .buffer_unordered(CONNECTIONS)
        .collect()
        .await;
    let took = started.elapsed();
    assert!(statuses.iter().all(|s| *s == 200), "every answer a 200");
    (urls.len(), took)
}
