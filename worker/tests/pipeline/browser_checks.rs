//! The brief's checks run in headless Chromium, failures repaired by the
//! (scripted) LLM, the best version kept, and every verdict reported: on
//! the version, in the ready message, and on the published site.
//!
//! These run the real browser; they skip without Chromium unless
//! `PAGESMITH_REQUIRE_BROWSER` is set (`scripts/test` sets it).

use std::{process::Command, sync::Arc, time::Duration};

use pagesmith::{
    bundle::BundleFile,
    db::{
        generations::DerivedCheck,
        versions::{CheckKind, CheckResult},
    },
    domain::SitePath,
};
use testkit::evaluator::Evaluator;
use worker::{
    browser::{Browser, Timeouts},
    process::process,
};

use crate::helpers::{Step, TestWorker, good_site, spawn};

const TITLE_CHECK: &str = "js: document.title === 'Sales Summary 4c2d9'";
const TOTAL_CHECK: &str = "js: document.querySelector('#total').textContent === '1234.5'";

/// A worker whose LLM follows `llm`, with a real browser, calling back the
/// local fake evaluator.
async fn worker(llm: Vec<Step>, builtin: Vec<Step>, extra: &[(&str, &str)]) -> Option<TestWorker> {
    let path = testkit::browser_or_skip(Browser::find(), "chromium")?;
    let mut vars = vec![("CALLBACK_ALLOW_PRIVATE", "true")];
    vars.extend_from_slice(extra);
    let w = spawn(llm, builtin, &vars).await;
    let mut env = Arc::try_unwrap(w.env).ok().expect("sole owner");
    env.settings.browser = Some(Browser::new(
        path,
        Timeouts {
            run: Duration::from_secs(60),
            ..Timeouts::default()
        },
    ));
    Some(TestWorker {
        env: Arc::new(env),
        ..w
    })
}

/// A site titled `title` whose #total reads `total`.
fn site(title: &str, total: &str) -> Vec<(&'static str, String)> {
    let mut files = good_site(title);
    files[0].1 = format!(
        "<!DOCTYPE html><html><head><title>{title}</title><link rel=\"stylesheet\" href=\"style.css\"></head>\
         <body><h1>{title}</h1><p id=\"total\"></p>\
         <script>document.getElementById('total').textContent = '{total}';</script></body></html>"
    );
    files
}

/// An `/app` job calling back a fresh fake evaluator (`testkit`).
async fn app_job(w: &TestWorker, checks: &[&str], deadline_secs: f64) -> uuid::Uuid {
    let (_, evaluation_url) = Evaluator::start().await;
    w.app_job_checking(
        "sum-of-sales",
        1,
        &uuid::Uuid::new_v4().to_string(),
        &evaluation_url,
        deadline_secs,
        checks,
    )
    .await
}

fn verdict<'a>(checks: &'a [CheckResult], name: &str) -> &'a CheckResult {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}: {checks:?}"))
}

/// The files of the job's published commit, read back from the local
/// publisher's repository.
async fn published_files(w: &TestWorker, job: uuid::Uuid) -> Vec<BundleFile> {
    let (repo_url, sha) = w.published_commit(job).await;
    let name = repo_url.rsplit('/').next().unwrap();
    let repo = w.data_dir.path().join("repos").join(name);
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(&repo)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        out.stdout
    };
    String::from_utf8(git(&["ls-tree", "-r", "--name-only", &sha]))
        .unwrap()
        .lines()
        .filter_map(|path| SitePath::parse(path).ok())
        .map(|path| BundleFile {
            bytes: git(&["show", &format!("{sha}:{path}")]),
            path,
        })
        .collect()
}

/// What the browser says of the published site, check by check.
async fn published_verdicts(w: &TestWorker, job: uuid::Uuid, checks: &[&str]) -> Vec<bool> {
    let files = published_files(w, job).await;
    let expressions: Vec<String> = checks
        .iter()
        .map(|c| c.trim_start_matches("js:").trim().to_owned())
        .collect();
    let report = w
        .env
        .settings
        .browser
        .as_ref()
        .unwrap()
        .check_site(&files, &expressions, None)
        .await
        .unwrap();
    report
        .verdicts
        .iter()
        .map(|v| *v == worker::browser::Verdict::Passed)
        .collect()
}

#[tokio::test]
async fn a_wrong_site_is_repaired_from_what_failed_and_the_right_one_published() {
    let Some(w) = worker(
        vec![
            Step::Files(site("Tide Tally", "1234.5")),
            Step::Files(site("Sales Summary 4c2d9", "1234.5")),
        ],
        vec![],
        &[],
    )
    .await
    else {
        return;
    };
    let checks = [TITLE_CHECK, TOTAL_CHECK];
    let job = app_job(&w, &checks, 600.0).await;

    process(&w.env, job).await.unwrap();

    assert_eq!(
        w.llm.calls() + w.llm.repair_calls(),
        2,
        "one site, one repair"
    );
    let repairs = w.llm.repairs.lock().unwrap().clone();
    assert_eq!(repairs.len(), 1);
    let asked = repairs[0].join("\n");
    assert!(
        asked.contains(TITLE_CHECK) && asked.contains("`document.title` is 'Tide Tally'"),
        "the repair round hears what failed and what the page showed: {asked}"
    );
    let version = w.version_of(job).await;
    assert!(
        version.checks.iter().all(|c| c.passed),
        "{:?}",
        version.checks
    );
    assert_eq!(
        verdict(&version.checks, TITLE_CHECK).kind,
        CheckKind::Browser
    );
    assert_eq!(w.state(job).await, "published");
    assert_eq!(published_verdicts(&w, job, &checks).await, [true, true]);
}

#[tokio::test]
async fn a_right_first_site_costs_exactly_one_call() {
    let Some(w) = worker(
        vec![Step::Files(site("Sales Summary 4c2d9", "1234.5"))],
        vec![],
        &[],
    )
    .await
    else {
        return;
    };
    let job = app_job(&w, &[TITLE_CHECK, TOTAL_CHECK], 600.0).await;

    process(&w.env, job).await.unwrap();

    assert_eq!(w.llm.calls(), 1);
    assert_eq!(w.llm.repair_calls(), 0);
    let version = w.version_of(job).await;
    assert_eq!(verdict(&version.checks, TOTAL_CHECK).detail, "true");
    assert!(
        version.checks.iter().all(|c| c.passed),
        "{:?}",
        version.checks
    );
}

#[tokio::test]
async fn a_site_never_right_stops_after_the_rounds_and_the_best_is_published() {
    // The first site passes the total check; both repairs pass nothing.
    let Some(w) = worker(
        vec![
            Step::Files(site("Tide Tally", "1234.5")),
            Step::Files(site("Tide Tally", "oops")),
            Step::Files(site("Still Wrong", "0")),
        ],
        vec![],
        &[("REPAIR_ROUNDS", "2")],
    )
    .await
    else {
        return;
    };
    let checks = [TITLE_CHECK, TOTAL_CHECK];
    let job = app_job(&w, &checks, 600.0).await;

    process(&w.env, job).await.unwrap();

    assert_eq!(w.llm.calls(), 1);
    assert_eq!(
        w.llm.repair_calls(),
        2,
        "REPAIR_ROUNDS rounds, then it stops"
    );
    // The second repair was asked from the best site, not from the worse one.
    let repairs = w.llm.repairs.lock().unwrap().clone();
    assert!(
        !repairs[1].join("\n").contains(TOTAL_CHECK),
        "{:?}",
        repairs[1]
    );
    let version = w.version_of(job).await;
    let title = verdict(&version.checks, TITLE_CHECK);
    assert!(!title.passed);
    assert_eq!(
        title.detail,
        "returned false; `document.title` is 'Tide Tally'"
    );
    assert!(verdict(&version.checks, TOTAL_CHECK).passed);
    assert_eq!(w.state(job).await, "published");
    assert_eq!(published_verdicts(&w, job, &checks).await, [false, true]);
    let rounds: i32 = sqlx::query_scalar("SELECT repair_rounds FROM generations WHERE job_id = $1")
        .bind(job)
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(rounds, 2);
}

#[tokio::test]
async fn a_telegram_prompt_gets_its_page_health_checked_in_the_browser() {
    let Some(w) = worker(vec![Step::Files(site("Sales Summary", "1"))], vec![], &[]).await else {
        return;
    };
    // A prompt has no checks of its own: the derived ones stand in.
    let job = w
        .prompt("A sales summary page titled Sales Summary", None)
        .await;
    process(&w.env, job).await.unwrap();

    assert_eq!(w.state(job).await, "preview_ready");
    assert_eq!(w.llm.repair_calls(), 0);
    let ready = w
        .telegram_calls()
        .await
        .into_iter()
        .filter_map(|(_, body)| body["text"].as_str().map(str::to_owned))
        .next_back()
        .unwrap();
    assert!(
        ready.contains("Structure (the files): 7/7 passed"),
        "{ready}"
    );
    assert!(
        ready.contains("Behaviour (the page in a browser): 2/2 passed"),
        "the page's own health was checked: {ready}"
    );
}

#[tokio::test]
async fn a_throwing_and_a_hanging_check_fail_with_what_happened() {
    let Some(w) = worker(
        vec![Step::Files(site("Sales Summary 4c2d9", "1"))],
        vec![],
        &[("REPAIR_ROUNDS", "0")],
    )
    .await
    else {
        return;
    };
    let throwing = "js: document.querySelector('#nope').textContent === 'x'";
    let hanging = "js: (() => { while (true) {} })()";
    let job = app_job(&w, &[throwing, hanging, TITLE_CHECK], 600.0).await;

    process(&w.env, job).await.unwrap();

    let version = w.version_of(job).await;
    let threw = verdict(&version.checks, throwing);
    assert!(!threw.passed);
    assert!(
        threw.detail.starts_with("threw TypeError"),
        "{}",
        threw.detail
    );
    let hung = verdict(&version.checks, hanging);
    assert!(!hung.passed);
    assert!(
        hung.detail.starts_with("timed out after 3.0 s"),
        "{}",
        hung.detail
    );
    assert!(
        verdict(&version.checks, TITLE_CHECK).passed,
        "later checks still ran"
    );
}

#[tokio::test]
async fn a_near_deadline_skips_repairs() {
    let Some(w) = worker(
        vec![Step::Files(site("Tide Tally", "1234.5"))],
        vec![],
        &[("APP_PUBLISH_RESERVE_SECS", "30")],
    )
    .await
    else {
        return;
    };
    // 30 s reserve + 50 s: enough for the LLM (20 s), not for a repair (60 s).
    let job = app_job(&w, &[TITLE_CHECK], 80.0).await;

    process(&w.env, job).await.unwrap();

    assert_eq!(w.llm.calls(), 1);
    assert_eq!(
        w.llm.repair_calls(),
        0,
        "no repair this close to the deadline"
    );
    let version = w.version_of(job).await;
    assert!(!verdict(&version.checks, TITLE_CHECK).passed);
    assert_eq!(
        w.state(job).await,
        "published",
        "published on time, failures and all"
    );
}

#[tokio::test]
async fn the_built_in_generator_is_checked_and_reported_but_not_repaired() {
    let Some(w) = worker(
        vec![Step::Permanent("401 invalid key")],
        vec![Step::Files(site("Tide Tally", "1"))],
        &[],
    )
    .await
    else {
        return;
    };
    let job = app_job(&w, &[TITLE_CHECK], 600.0).await;

    process(&w.env, job).await.unwrap();

    assert_eq!(w.builtin.calls(), 1);
    assert_eq!(w.builtin.repair_calls(), 0);
    assert_eq!(w.llm.repair_calls(), 0);
    let version = w.version_of(job).await;
    assert_eq!(version.generator, "builtin");
    let title = verdict(&version.checks, TITLE_CHECK);
    assert_eq!(
        title.detail,
        "returned false; `document.title` is 'Tide Tally'"
    );
}

#[tokio::test]
async fn plain_english_checks_become_derived_page_checks_in_one_call() {
    let Some(w) = worker(
        vec![Step::Files(site("Sales Summary 4c2d9", "1234.5"))],
        vec![],
        &[],
    )
    .await
    else {
        return;
    };
    *w.llm.derived.lock().unwrap() = vec![DerivedCheck {
        check: "The page shows the total".into(),
        js: "document.querySelector('#total').textContent.length > 0".into(),
    }];
    let job = app_job(
        &w,
        &[
            TITLE_CHECK,
            "The page shows the total",
            "Repo has MIT license",
        ],
        600.0,
    )
    .await;

    process(&w.env, job).await.unwrap();
    // A redelivery asks for nothing again.
    process(&w.env, job).await.unwrap();

    let asked = w.llm.derivations.lock().unwrap().clone();
    assert_eq!(
        asked,
        [vec![
            "The page shows the total".to_owned(),
            "Repo has MIT license".to_owned()
        ]],
        "one derivation call, for the plain-English checks only"
    );
    let version = w.version_of(job).await;
    let derived = verdict(&version.checks, "The page shows the total");
    assert_eq!(derived.kind, CheckKind::Derived);
    assert!(derived.passed, "{derived:?}");
}
