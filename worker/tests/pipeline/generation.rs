use std::sync::Arc;

use pagesmith::bundle::View;
use worker::{error::JobError, process::process};

use crate::helpers::{STATUS_MESSAGE, Step, TestWorker, good_site, spawn};

#[tokio::test]
async fn a_prompt_becomes_a_checked_version_with_its_bundle_and_live_progress() {
    let w = spawn(vec![Step::Files(good_site("Bakery"))], vec![], &[]).await;
    let job = w.prompt("A site for my bakery\nWith a menu.", None).await;

    process(&w.env, job).await.unwrap();

    assert_eq!(w.state(job).await, "preview_ready");
    let version = w.version_of(job).await;
    assert_eq!(version.number, 1);
    assert_eq!(version.generator, "llm:test-model");
    assert!(
        version.checks.iter().all(|c| c.passed),
        "{:#?}",
        version.checks
    );
    assert!(
        version.preview_token.len() >= 32,
        "at least 192 bits, base64url"
    );
    let paths: Vec<&str> = version.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            ".nojekyll",
            "LICENSE",
            "README.md",
            "app.js",
            "index.html",
            "style.css"
        ]
    );
    let bundle = w.env.bundles.open(&version.bundle).await.unwrap();
    let index = String::from_utf8(bundle.read(View::Live, "index.html").unwrap()).unwrap();
    assert!(index.contains("<h1>Bakery</h1>"));
    let license = String::from_utf8(bundle.read(View::Live, "LICENSE").unwrap()).unwrap();
    assert!(
        license.contains("Ada Lovelace"),
        "the LICENSE names the requester"
    );
    let raw: Option<String> =
        sqlx::query_scalar("SELECT raw_output FROM generations WHERE job_id = $1")
            .bind(job)
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    assert!(raw.is_some(), "the raw LLM output is kept for traceability");

    // One status message, then edits through the stages, ending ready with
    // buttons. A stage that passes before Telegram took the previous update
    // is folded into the next (the updates go out from a task of their
    // own), so the stages shown are in order, each at most once.
    let calls = w.telegram_calls().await;
    let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(methods[0], "sendmessage", "{methods:?}");
    assert!(
        methods[1..].iter().all(|m| *m == "editmessagetext"),
        "{methods:?}"
    );
    let stages = ["queued", "Writing", "Checking"];
    let shown: Vec<usize> = calls[..calls.len() - 1]
        .iter()
        .map(|(_, body)| {
            let text = body["text"].as_str().unwrap();
            stages.iter().position(|s| text.contains(s)).expect(text)
        })
        .collect();
    assert!(
        shown.windows(2).all(|w| w[0] < w[1]),
        "in order, once each: {shown:?}"
    );
    let ready = &calls.last().unwrap().1;
    assert_eq!(ready["message_id"], STATUS_MESSAGE);
    let text = ready["text"].as_str().unwrap();
    assert!(
        text.contains(&format!(
            "https://preview.test/p/{}/",
            version.preview_token
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        "https://preview.test/s/{}/",
        version.preview_token
    )));
    assert!(text.contains("Structure (the files): 7/7 passed"), "{text}");
    assert!(
        text.contains("Behaviour: not checked in a browser"),
        "{text}"
    );
    let buttons = ready["reply_markup"]["inline_keyboard"].to_string();
    assert!(
        buttons.contains(&format!("approve:{}", version.id)),
        "{buttons}"
    );
    assert!(buttons.contains("revise:") && buttons.contains("reject:"));
}

#[tokio::test]
async fn the_llm_failing_twice_falls_back_to_the_builtin_generator() {
    let w = spawn(
        vec![
            Step::Retryable("503 from the LLM"),
            Step::Retryable("timed out"),
        ],
        vec![],
        &[],
    )
    .await;
    let job = w.prompt("A portfolio", None).await;

    let first = process(&w.env, job).await.unwrap_err();
    assert!(matches!(first, JobError::Retryable { .. }), "{first:?}");
    assert_eq!(w.state(job).await, "generating");

    process(&w.env, job).await.unwrap();
    assert_eq!(w.state(job).await, "preview_ready");
    assert_eq!(w.version_of(job).await.generator, "builtin");
    assert_eq!((w.llm.calls(), w.builtin.calls()), (2, 1));
}

#[tokio::test]
async fn a_permanent_llm_error_falls_back_at_once() {
    let w = spawn(vec![Step::Permanent("401: invalid API key")], vec![], &[]).await;
    let job = w.prompt("A portfolio", None).await;
    process(&w.env, job).await.unwrap();
    assert_eq!(w.version_of(job).await.generator, "builtin");
    assert_eq!((w.llm.calls(), w.builtin.calls()), (1, 1));
}

#[tokio::test]
async fn traversal_paths_from_the_llm_are_refused_and_never_written() {
    let evil = vec![
        ("../../etc/passwd", "root:x:0:0".to_owned()),
        ("index.html", "<html></html>".to_owned()),
    ];
    let w = spawn(
        vec![Step::Files(evil.clone()), Step::Files(evil)],
        vec![],
        &[],
    )
    .await;
    let job = w.prompt("Anything", None).await;

    let err = process(&w.env, job).await.unwrap_err();
    assert!(err.to_string().contains("../../etc/passwd"), "{err}");
    process(&w.env, job).await.unwrap();
    assert_eq!(
        w.version_of(job).await.generator,
        "builtin",
        "the second refusal falls back"
    );
    let escaped = w.data_dir.path().parent().unwrap().join("etc/passwd");
    assert!(!escaped.exists());
    let stored: i64 = w
        .count("SELECT count(*) FROM generations WHERE files::text LIKE '%etc/passwd%'")
        .await;
    assert_eq!(stored, 0, "the refused files were never stored");
}

#[tokio::test]
async fn a_manifest_carrying_a_token_fails_the_job_and_is_never_stored() {
    let mut site = good_site("Leaky");
    site.push((
        "config.js",
        "const token = 'ghp_0123456789abcdefghijABCDEFGHIJ012345';".to_owned(),
    ));
    let w = spawn(vec![Step::Files(site)], vec![], &[]).await;
    let job = w.prompt("A site", None).await;

    let err = process(&w.env, job).await.unwrap_err();
    let JobError::Permanent {
        reason,
        user_message,
    } = err
    else {
        panic!("permanent")
    };
    assert!(
        reason.contains("`config.js` contains a GitHub token"),
        "{reason}"
    );
    assert!(
        !reason.contains("ghp_"),
        "the secret itself is never echoed"
    );
    assert!(user_message.contains("password or access token"));
    assert_eq!(w.count("SELECT count(*) FROM generations").await, 0);
    assert_eq!(w.count("SELECT count(*) FROM versions").await, 0);
    assert!(!w.data_dir.path().join("bundles").exists());
}

#[tokio::test]
async fn our_own_configured_secret_in_the_output_fails_the_job() {
    let mut site = good_site("Leaky");
    site.push((
        "notes.txt",
        "secret: app-secret-that-must-not-leak".to_owned(),
    ));
    let w = spawn(vec![Step::Files(site)], vec![], &[]).await;
    let job = w.prompt("A site", None).await;
    let err = process(&w.env, job).await.unwrap_err();
    assert!(
        err.to_string().contains("this server's own secrets"),
        "{err}"
    );
}

#[tokio::test]
async fn a_failing_self_check_gets_one_repair_round() {
    let mut broken = good_site("Broken");
    broken.retain(|(p, _)| *p != "style.css"); // linked from index.html
    let w = spawn(
        vec![Step::Files(broken), Step::Files(good_site("Repaired"))],
        vec![],
        &[],
    )
    .await;
    let job = w.prompt("A site with style.css", None).await;
    process(&w.env, job).await.unwrap();

    let repairs = w.llm.repairs.lock().unwrap().clone();
    assert_eq!(repairs.len(), 1);
    assert!(
        repairs[0].iter().any(|p| p.contains("style.css")),
        "{repairs:?}"
    );
    let version = w.version_of(job).await;
    assert!(
        version.checks.iter().all(|c| c.passed),
        "the repaired site is kept"
    );
}

#[tokio::test]
async fn a_revision_sees_the_previous_files_and_carries_them_over() {
    let mut first = good_site("Bakery");
    first.push((
        "menu.html",
        "<!DOCTYPE html><html><body>Croissant</body></html>".to_owned(),
    ));
    let w = spawn(
        vec![Step::Files(first), Step::Files(good_site("Bakery v2"))],
        vec![],
        &[],
    )
    .await;
    let round1 = w.prompt("A bakery site", None).await;
    process(&w.env, round1).await.unwrap();

    // The user replies to the ready message with a change.
    let round2 = w
        .prompt("Make the header blue", Some(crate::helpers::STATUS_MESSAGE))
        .await;
    process(&w.env, round2).await.unwrap();

    let requests = w.llm.requests.lock().unwrap().clone();
    let revision = &requests[1];
    assert_eq!(revision.round, 2);
    assert_eq!(
        revision.change_request.as_deref(),
        Some("Make the header blue")
    );
    assert_eq!(
        revision.brief, "A bakery site",
        "the original brief stays the brief"
    );
    assert!(
        revision
            .previous_files
            .iter()
            .any(|f| f.path == "menu.html" && f.content.contains("Croissant"))
    );

    let v1 = w.version_of(round1).await;
    let v2 = w.version_of(round2).await;
    assert_eq!(
        (v1.project_id, v2.number),
        (v2.project_id, 2),
        "same project, next version"
    );
    assert!(
        v2.files.iter().any(|f| f.path == "menu.html"),
        "files the revision did not touch are kept"
    );
}

#[tokio::test]
async fn a_run_killed_during_generation_and_redelivered_gives_one_version() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let w = spawn(
        vec![
            Step::Block(gate.clone()),
            Step::Files(good_site("Second run")),
        ],
        vec![],
        &[],
    )
    .await;
    let job = w.prompt("A site", None).await;

    // The first run hangs in the LLM call and is killed there.
    let env = w.env.clone();
    let first = tokio::spawn(async move { process(&env, job).await });
    testkit::eventually(
        "the first run to reach the LLM",
        std::time::Duration::from_secs(10),
        || async { (w.llm.calls() == 1).then_some(()) },
    )
    .await;
    first.abort();
    let _ = first.await;

    // The broker redelivers; the lock dies with the killed run's connection.
    testkit::eventually(
        "the redelivery to run",
        std::time::Duration::from_secs(10),
        || async {
            match process(&w.env, job).await {
                Err(JobError::Busy) => None,
                other => {
                    other.unwrap();
                    Some(())
                }
            }
        },
    )
    .await;
    process(&w.env, job).await.unwrap();
    gate.notify_waiters();
    assert_eq!(w.count("SELECT count(*) FROM versions").await, 1);
    assert_eq!(w.state(job).await, "preview_ready");
}

#[tokio::test]
async fn a_run_that_fails_after_generation_resumes_without_generating_again() {
    let w = spawn(vec![Step::Files(good_site("Once"))], vec![], &[]).await;
    let job = w.prompt("A site", None).await;
    // Bundling fails: DATA_DIR is a file, not a directory.
    let bundles = w.data_dir.path().join("bundles");
    std::fs::write(&bundles, b"in the way").unwrap();
    let err = process(&w.env, job).await.unwrap_err();
    assert!(matches!(err, JobError::Retryable { .. }), "{err:?}");
    assert_eq!(w.state(job).await, "checking");

    std::fs::remove_file(&bundles).unwrap();
    process(&w.env, job).await.unwrap();
    assert_eq!(w.state(job).await, "preview_ready");
    assert_eq!(w.llm.calls(), 1, "the committed generation was reused");
    let attempts: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT stage, outcome FROM job_attempts WHERE job_id = $1 ORDER BY id")
            .bind(job)
            .fetch_all(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(
        attempts,
        [
            ("queued".into(), Some("retrying".into())),
            ("checking".into(), Some("succeeded".into()))
        ]
    );
}

/// A job whose run is waiting in its LLM call until `gate` is notified.
async fn a_run_waiting_on_the_llm() -> (
    TestWorker,
    Arc<tokio::sync::Notify>,
    uuid::Uuid,
    tokio::task::JoinHandle<Result<(), JobError>>,
) {
    let gate = Arc::new(tokio::sync::Notify::new());
    let w = spawn(vec![Step::Block(gate.clone())], vec![], &[]).await;
    let job = w.prompt("A site", None).await;
    let env = w.env.clone();
    let first = tokio::spawn(async move { process(&env, job).await });
    testkit::eventually(
        "the first run to start",
        std::time::Duration::from_secs(10),
        || async { (w.llm.calls() == 1).then_some(()) },
    )
    .await;
    (w, gate, job, first)
}

#[tokio::test]
async fn two_deliveries_at_once_run_the_job_once() {
    let (w, gate, job, first) = a_run_waiting_on_the_llm().await;
    let second = process(&w.env, job).await;
    assert!(matches!(second, Err(JobError::Busy)), "{second:?}");
    gate.notify_waiters();
    first.await.unwrap().unwrap();
    assert_eq!(w.count("SELECT count(*) FROM versions").await, 1);
}

/// Another worker (its own lock session) cannot run the job while this
/// one does, and can once it is done.
#[tokio::test]
async fn another_worker_cannot_take_a_job_this_one_is_running() {
    let (w, gate, job, first) = a_run_waiting_on_the_llm().await;
    let other_worker = worker::lock::JobLocks::new(w.db.pool.clone());
    assert!(other_worker.try_acquire(job).await.unwrap().is_none());
    assert_eq!(w.env.locks.held().await, 1);
    gate.notify_waiters();
    first.await.unwrap().unwrap();
    let lock = other_worker.try_acquire(job).await.unwrap();
    assert!(lock.is_some(), "free once the run ended");
    lock.unwrap().release().await;
}

#[tokio::test]
async fn a_chat_over_its_llm_allowance_is_told_when_to_come_back() {
    let w = spawn(
        vec![
            Step::Files(good_site("One")),
            Step::Files(good_site("Two")),
            Step::Files(good_site("Other chat")),
        ],
        vec![],
        &[("CHAT_LLM_PER_HOUR", "6"), ("CHAT_LLM_BURST", "2")],
    )
    .await;
    for text in ["A first site", "A second site"] {
        let job = w.prompt(text, None).await;
        process(&w.env, job).await.unwrap();
        assert_eq!(w.state(job).await, "preview_ready");
    }

    // The third fails for good (the consumer then tells the user and
    // dead-letters it), before any LLM call.
    let third = w.prompt("A third site", None).await;
    let err = process(&w.env, third).await.unwrap_err();
    assert!(matches!(err, JobError::Permanent { .. }), "{err:?}");
    assert!(
        err.user_message()
            .contains("send this again in about 10 minutes"),
        "{}",
        err.user_message()
    );
    assert_eq!(w.llm.calls(), 2, "the third prompt spent no LLM call");

    // Another chat has its own allowance.
    let other = w
        .insert_job(pagesmith::domain::JobPayload::Prompt(
            pagesmith::domain::job::TelegramPrompt {
                chat_id: 888,
                user_id: 888,
                message_id: 1,
                text: "A site for another chat".into(),
                reply_to_message_id: None,
                revise: false,
                user_name: None,
            },
        ))
        .await;
    process(&w.env, other).await.unwrap();
    assert_eq!(w.state(other).await, "preview_ready");
}
