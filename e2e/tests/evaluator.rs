//! The worker's verdicts on a brief's `js:` checks are what the evaluator's
//! browser sees on the published page.
//!
//! Each brief goes to `/app` on a stack whose worker runs its checks in
//! headless Chromium; after the callback, `GET /jobs/{id}` gives the
//! worker's verdicts (`preview.checks`, kind `browser`), and an independent
//! implementation of the evaluator's browser, Playwright driving the same
//! Debian Chromium (`e2e/evaluator/evaluate.mjs`), runs the same checks
//! against the callback's `pages_url`. Every check must get the same
//! verdict from both.
//!
//! Without internet, CDN scripts fail to load in both browsers; what is
//! compared is that the two agree, whatever the verdicts are.
//!
//! Skips without Chromium (unless `PAGESMITH_REQUIRE_BROWSER` is set) or
//! without `e2e/evaluator/node_modules/playwright-core` (unless
//! `PAGESMITH_REQUIRE_EVALUATOR` is set; `scripts/test` installs it with
//! `ensure_evaluator` and sets both).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use e2e::{Stack, StackOptions};
use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, process::Command};
use worker::browser::Browser;

/// How long a brief may take from `/app` to its callback: three briefs
/// share one worker, whose browser runs one page at a time.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(180);

/// How long Playwright may take for one page (launch, load, checks).
const EVALUATE_TIMEOUT: Duration = Duration::from_secs(90);

/// The briefs: copies of the project's `/app` fixtures.
fn briefs() -> Vec<Value> {
    vec![
        json!({
            "task": "sum-of-sales-4c2d9",
            "brief": "Publish a single-page site that fetches data.csv from attachments, sums its \
                      sales column, sets the title to \"Sales Summary 4c2d9\", displays the total \
                      inside #total-sales, and loads Bootstrap 5 from jsdelivr.",
            "checks": [
                "js: document.title === 'Sales Summary 4c2d9'",
                "js: !!document.querySelector(\"link[href*='bootstrap']\")",
                "js: Math.abs(parseFloat(document.querySelector('#total-sales').textContent) - 1234.5) < 0.01"
            ],
            "attachments": [{
                "name": "data.csv",
                "url": "data:text/csv;base64,cHJvZHVjdCxyZWdpb24sc2FsZXMKV2lkZ2V0LE5vcnRoLDQwMC4yNQpHYWRnZXQsU291dGgsNTAwLjAwCkdpem1vLEVhc3QsMzM0LjI1Cg=="
            }]
        }),
        json!({
            "task": "markdown-to-html-91be0",
            "brief": "Publish a static page that converts input.md from attachments to HTML with \
                      marked, renders it inside #markdown-output, and loads highlight.js for code \
                      blocks.",
            "checks": [
                "js: !!document.querySelector(\"script[src*='marked']\")",
                "js: !!document.querySelector(\"script[src*='highlight.js']\")",
                "js: document.querySelector('#markdown-output').innerHTML.includes('<h')"
            ],
            "attachments": [{
                "name": "input.md",
                "url": "data:text/markdown,%23%20Hello%0A%0ASome%20%60code%60%20and%20a%20list%3A%0A%0A-%20one%0A-%20two%0A"
            }]
        }),
        // captcha-solver-r1.json: plain-English checks only, so nothing of
        // it is compared; it is here to show that such a brief gets no
        // browser verdicts from either side.
        json!({
            "task": "captcha-solver-7f3a1",
            "brief": "Create a captcha solver that handles ?url=https://.../image.png. Default to \
                      attached sample.",
            "checks": [
                "Repo has MIT license",
                "README.md is professional",
                "Page displays captcha URL passed at ?url=...",
                "Page displays solved captcha text within 15 seconds"
            ],
            "attachments": [{
                "name": "sample.png",
                "url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAACgAAAAQCAIAAADrtar6AAAAIElEQVR4nGM4cefDgCCGUYtHLR61eNTiUYtHLR61GIYAITByW5MT7GgAAAAASUVORK5CYII="
            }]
        }),
    ]
}

/// The repository's root (this crate is `e2e/`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ sits in the repository")
        .to_path_buf()
}

/// The evaluator's folder, if Playwright is installed there; `None` (skip)
/// without it, unless the run demands it.
fn evaluator_or_skip() -> Option<PathBuf> {
    let dir = repo_root().join("e2e").join("evaluator");
    if dir.join("node_modules").join("playwright-core").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("PAGESMITH_REQUIRE_EVALUATOR").is_none(),
        "PAGESMITH_REQUIRE_EVALUATOR is set but {} has no node_modules/playwright-core \
         (run `source scripts/lib.sh && ensure_evaluator`)",
        dir.display()
    );
    eprintln!(
        "SKIPPED: playwright-core is not installed in e2e/evaluator \
         (source scripts/lib.sh && ensure_evaluator)"
    );
    None
}

/// The js: checks of a brief, in order.
fn js_checks(brief: &Value) -> Vec<String> {
    brief["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(Value::as_str)
        .filter(|c| c.starts_with("js:"))
        .map(str::to_owned)
        .collect()
}

/// What the worker recorded for one check.
#[derive(Debug, Clone)]
struct WorkerVerdict {
    passed: bool,
    detail: String,
}

/// What Playwright saw for one check.
#[derive(Debug, Clone)]
struct PlaywrightVerdict {
    passed: bool,
    value: Value,
    error: Value,
}

impl PlaywrightVerdict {
    fn shown(&self) -> String {
        match self.error.as_str() {
            Some(error) => format!("threw: {error}"),
            None => format!("returned {}", self.value),
        }
    }
}

/// `node evaluate.mjs` with `{url, checks}` on stdin: one verdict per js:
/// check, in order.
async fn playwright_verdicts(
    evaluator: &Path,
    chromium: &Path,
    url: &str,
    checks: &Value,
) -> Vec<(String, PlaywrightVerdict)> {
    let mut child = Command::new("node")
        .arg(evaluator.join("evaluate.mjs"))
        .current_dir(repo_root())
        .env("CHROMIUM", chromium)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let input = json!({"url": url, "checks": checks}).to_string();
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(input.as_bytes())
        .await
        .expect("write stdin");
    drop(stdin);
    let output = tokio::time::timeout(EVALUATE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("evaluate.mjs took longer than {EVALUATE_TIMEOUT:?}"))
        .expect("evaluate.mjs finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "evaluate.mjs on {url} failed ({}): {}{stdout}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("evaluate.mjs printed no JSON ({e}): {stdout}"));
    answer["verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no verdicts in {answer}"))
        .iter()
        .map(|v| {
            (
                v["check"].as_str().expect("check").to_owned(),
                PlaywrightVerdict {
                    passed: v["passed"].as_bool().expect("passed"),
                    value: v["value"].clone(),
                    error: v["error"].clone(),
                },
            )
        })
        .collect()
}

/// The worker's `browser` verdicts on the job's version, by check name.
async fn worker_verdicts(stack: &Stack, job_id: &str) -> Vec<(String, WorkerVerdict)> {
    let response = stack
        .client
        .get(format!("http://{}/jobs/{job_id}", stack.bot))
        .send()
        .await
        .expect("GET /jobs answers");
    assert_eq!(response.status(), 200, "GET /jobs/{job_id}");
    let job: Value = response.json().await.expect("a JSON job");
    job["preview"]["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no preview.checks on the job: {job:#}"))
        .iter()
        .filter(|c| c["kind"] == "browser")
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_owned(),
                WorkerVerdict {
                    passed: c["passed"].as_bool().expect("passed"),
                    detail: c["detail"].as_str().unwrap_or_default().to_owned(),
                },
            )
        })
        .collect()
}

/// One row of the comparison.
struct Row {
    task: String,
    check: String,
    worker: WorkerVerdict,
    playwright: PlaywrightVerdict,
}

fn mark(passed: bool) -> &'static str {
    if passed { "pass" } else { "FAIL" }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "worker | playwright | task | check\n       |            |      |   worker detail / playwright value\n",
    );
    for row in rows {
        out.push_str(&format!(
            "{:<6} | {:<10} | {} | {}\n       |            |      |   worker: {}\n       |            |      |   playwright: {}\n",
            mark(row.worker.passed),
            mark(row.playwright.passed),
            row.task,
            row.check,
            row.worker.detail,
            row.playwright.shown(),
        ));
    }
    out
}

// Several threads: the servers under test run in this runtime while the
// test waits on node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_workers_check_verdicts_are_what_the_evaluators_browser_sees_on_the_published_page() {
    let Some(chromium) = testkit::browser_or_skip(Browser::find(), "chromium") else {
        return;
    };
    let Some(evaluator) = evaluator_or_skip() else {
        return;
    };
    let started = Instant::now();
    let stack = Stack::start(StackOptions {
        worker_env: vec![
            ("BROWSER", chromium.display().to_string()),
            // The briefs queue for one browser, and the wait counts against
            // each run's limit; this test compares verdicts, not speed, so
            // a loaded machine must not turn them into timeouts.
            ("BROWSER_TIMEOUT_SECS", "60".to_owned()),
        ],
        ..StackOptions::default()
    })
    .await;
    let run = uuid::Uuid::new_v4().simple().to_string();

    // Every brief in at once: they queue for the worker's one browser.
    let mut jobs = Vec::new();
    for brief in briefs() {
        let task = brief["task"].as_str().expect("task").to_owned();
        let nonce = format!("evaluator-{task}-{run}");
        let mut body = stack.app_request(&task, 1, &nonce, brief["brief"].as_str().expect("brief"));
        body["checks"] = brief["checks"].clone();
        body["attachments"] = brief["attachments"].clone();
        let response = stack.post_app(&body).await;
        assert_eq!(response.status(), 200, "POST /app {task}");
        let accepted: Value = response.json().await.expect("a JSON answer");
        let job_id = accepted["job_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no job_id in {accepted}"))
            .to_owned();
        jobs.push((brief, task, nonce, job_id));
    }

    let mut rows = Vec::new();
    for (brief, task, nonce, job_id) in &jobs {
        let callback = stack.evaluator.wait_for(nonce, CALLBACK_TIMEOUT).await.body;
        let pages_url = callback["pages_url"]
            .as_str()
            .unwrap_or_else(|| panic!("no pages_url in {callback}"));
        let worker = worker_verdicts(&stack, job_id).await;
        let playwright =
            playwright_verdicts(&evaluator, &chromium, pages_url, &brief["checks"]).await;

        let checks = js_checks(brief);
        assert_eq!(
            playwright.iter().map(|(c, _)| c).collect::<Vec<_>>(),
            checks.iter().collect::<Vec<_>>(),
            "{task}: Playwright gives one verdict per js: check, in order"
        );
        for ((check, playwright), expected) in playwright.into_iter().zip(&checks) {
            assert_eq!(&check, expected);
            let worker = worker
                .iter()
                .find(|(name, _)| *name == check)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| {
                    panic!("{task}: the worker has no browser verdict for {check}: {worker:?}")
                });
            rows.push(Row {
                task: task.clone(),
                check,
                worker,
                playwright,
            });
        }
    }

    eprintln!(
        "worker vs Playwright, {} js: checks over {} briefs ({:.1} s):\n{}",
        rows.len(),
        jobs.len(),
        started.elapsed().as_secs_f64(),
        table(&rows)
    );
    for row in &rows {
        assert_eq!(
            row.worker.passed,
            row.playwright.passed,
            "{}: `{}`: the worker says {} ({}), Playwright on the published page says {} ({})",
            row.task,
            row.check,
            mark(row.worker.passed),
            row.worker.detail,
            mark(row.playwright.passed),
            row.playwright.shown(),
        );
    }
    assert!(
        rows.iter().any(|r| r.worker.passed),
        "no check passed on either side, so the agreement proves nothing:\n{}",
        table(&rows)
    );
}
