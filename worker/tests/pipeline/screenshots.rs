//! Screenshots under the ready message: headless Chromium photographs the
//! live preview (here a stand-in server; e2e uses the real preview) at
//! desktop and mobile sizes, and the PNGs reach the chat with `sendPhoto`,
//! once per version, without holding up the job.
//!
//! The tests that run Chromium skip without it, unless
//! `PAGESMITH_REQUIRE_BROWSER` is set.

use std::{path::PathBuf, sync::Arc, time::Duration};

use uuid::Uuid;

use pagesmith::{db, domain::MessagePurpose};
use testkit::telegram::{Answer, Call};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
use worker::{
    browser::{Browser, Timeouts, png_size},
    process::process,
};

use crate::helpers::{CHAT, STATUS_MESSAGE, Step, TestWorker, good_site, spawn};

/// The message id the fake Bot API gives every photo.
const PHOTO_MESSAGE: i32 = 601;
/// Room for a capture on a loaded machine.
const LONG: Duration = Duration::from_secs(30);

fn chromium() -> Option<PathBuf> {
    testkit::browser_or_skip(Browser::find(), "chromium")
}

/// A stand-in preview answering every page with `status` and a coloured
/// page, after `delay`.
async fn preview(status: u16, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    let page = "<!DOCTYPE html><html><body style=\"background:#2a6\">\
                <h1>Fresh bread daily</h1></body></html>";
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(status)
                .set_body_raw(page, "text/html")
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

/// A worker (with `steps` for its LLM) that screenshots the `preview`
/// with `browser`, each capture cut off after `timeout`.
async fn worker_with(
    browser: PathBuf,
    preview: &MockServer,
    timeout: Duration,
    steps: Vec<Step>,
) -> TestWorker {
    let w = spawn(steps, vec![], &[]).await;
    let mut env = Arc::try_unwrap(w.env).ok().expect("sole owner");
    env.settings.browser = Some(Browser::new(
        browser,
        Timeouts {
            run: timeout,
            ..Timeouts::default()
        },
    ));
    env.settings.screenshots = true;
    env.settings.preview_base_url = preview.uri().parse().unwrap();
    TestWorker {
        env: Arc::new(env),
        ..w
    }
}

/// The fake Bot API answers `sendPhoto` with `answer`: the next `times`
/// times, or every time not scripted otherwise.
fn photos_answered(w: &TestWorker, answer: Answer, times: Option<usize>) {
    match times {
        Some(n) => w
            .telegram
            .answer_next_of("sendphoto", std::iter::repeat_n(answer, n)),
        None => w.telegram.answer_every(Some("sendphoto"), answer),
    }
}

/// A photo message, numbered [`PHOTO_MESSAGE`].
fn photo_taken() -> Answer {
    Answer::message(PHOTO_MESSAGE.into())
}

/// Waits for the screenshots in flight to be taken and queued, and for the
/// queue to be delivered (but for chats paused longer than 2 s).
async fn settle(w: &TestWorker) {
    w.env.side_tasks.close();
    tokio::time::timeout(Duration::from_secs(120), w.env.side_tasks.wait())
        .await
        .expect("the screenshots finish");
    w.settle_telegram().await;
}

/// A prompt run to its ready message, and its screenshots settled.
async fn ready_job(w: &TestWorker, text: &str) -> Uuid {
    let job = w.prompt(text, None).await;
    process(&w.env, job).await.unwrap();
    settle(w).await;
    assert_eq!(w.state(job).await, "preview_ready");
    job
}

/// One bakery site for the LLM to write.
fn bakery() -> Vec<Step> {
    vec![Step::Files(good_site("Bakery"))]
}

/// Photo messages recorded for replies.
async fn screenshots_recorded(w: &TestWorker) -> i64 {
    w.count("SELECT count(*) FROM chat_messages WHERE purpose = 'screenshot'")
        .await
}

async fn photo_uploads(w: &TestWorker) -> Vec<Call> {
    w.settle_telegram().await;
    w.telegram.calls_of("sendphoto")
}

#[tokio::test]
async fn a_ready_version_is_sent_as_desktop_and_mobile_photos_once() {
    let Some(browser) = chromium() else { return };
    let site = preview(200, Duration::ZERO).await;
    let w = worker_with(browser, &site, LONG, bakery()).await;
    photos_answered(&w, photo_taken(), None);
    let job = ready_job(&w, "A site for my bakery").await;
    let token = w.version_of(job).await.preview_token;
    let calls = w.telegram_calls().await;
    let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        methods[methods.len() - 3..],
        ["editmessagetext", "sendphoto", "sendphoto"],
        "the photos follow the ready message"
    );
    let uploads = photo_uploads(&w).await;
    let mut sizes = Vec::new();
    for upload in &uploads {
        let body = String::from_utf8_lossy(&upload.raw);
        assert!(body.contains(&CHAT.to_string()), "sent to the chat");
        for view in ["p", "s"] {
            let link = format!("{}/{view}/{token}/", site.uri());
            assert!(body.contains(&link), "the caption links {link}");
        }
        let png = testkit::png_in(&upload.raw);
        assert!(png.len() > 1_000, "a rendered page, not an empty image");
        sizes.push(png_size(png).expect("a PNG header"));
    }
    assert_eq!(sizes, [(1280, 800), (390, 844)], "desktop, then mobile");
    let pages: Vec<String> = site
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert!(
        pages.contains(&format!("/p/{token}/")),
        "the live preview is photographed: {pages:?}"
    );
    assert!(
        !pages.iter().any(|p| p.starts_with("/s/")),
        "not the safe view: {pages:?}"
    );

    // A redelivered job finds its ready message sent, and sends no photos.
    process(&w.env, job).await.unwrap();
    settle(&w).await;
    assert_eq!(photo_uploads(&w).await.len(), 2);
}

#[tokio::test]
async fn a_reply_to_a_screenshot_asks_for_changes_to_the_same_site() {
    let Some(browser) = chromium() else { return };
    let site = preview(200, Duration::ZERO).await;
    let steps = vec![
        Step::Files(good_site("Bakery")),
        Step::Files(good_site("Bakery in blue")),
    ];
    let w = worker_with(browser, &site, LONG, steps).await;
    photos_answered(&w, photo_taken(), None);
    let first = ready_job(&w, "A site for my bakery").await;
    let version = w.version_of(first).await;

    let photo = db::chat::find(&w.db.pool, CHAT, PHOTO_MESSAGE)
        .await
        .unwrap()
        .expect("the photo is recorded");
    assert_eq!(photo.purpose, MessagePurpose::Screenshot);
    assert_eq!(photo.version_id, Some(version.id));

    let change = w.prompt("Make it blue", Some(PHOTO_MESSAGE)).await;
    process(&w.env, change).await.unwrap();
    let changed = w.version_of(change).await;
    assert_eq!(changed.project_id, version.project_id, "the same project");
    assert_eq!(changed.number, 2);
}

#[tokio::test]
async fn telegram_refusing_the_photos_leaves_the_version_ready() {
    let Some(browser) = chromium() else { return };
    let site = preview(200, Duration::ZERO).await;
    let w = worker_with(browser, &site, LONG, bakery()).await;
    let refused = Answer::refused("Bad Request: IMAGE_PROCESS_FAILED");
    photos_answered(&w, refused, None);
    ready_job(&w, "A site for my bakery").await;
    assert_eq!(
        photo_uploads(&w).await.len(),
        2,
        "each photo was tried once"
    );
    let ready = db::chat::find(&w.db.pool, CHAT, STATUS_MESSAGE)
        .await
        .unwrap()
        .expect("the ready message is recorded");
    assert_eq!(ready.purpose, MessagePurpose::Ready);
    assert_eq!(screenshots_recorded(&w).await, 0);
}

#[tokio::test]
async fn a_rate_limited_photo_is_sent_after_telegrams_wait() {
    let Some(browser) = chromium() else { return };
    let site = preview(200, Duration::ZERO).await;
    let w = worker_with(browser, &site, LONG, bakery()).await;
    photos_answered(&w, Answer::too_many_requests(1), Some(1));
    photos_answered(&w, photo_taken(), None);
    ready_job(&w, "A site for my bakery").await;

    assert_eq!(photo_uploads(&w).await.len(), 3, "one retried after 429");
    assert_eq!(
        screenshots_recorded(&w).await,
        1,
        "both photos got message {PHOTO_MESSAGE}"
    );
}

#[tokio::test]
async fn a_long_rate_limit_keeps_the_photos_queued_without_holding_the_job() {
    let Some(browser) = chromium() else { return };
    let site = preview(200, Duration::ZERO).await;
    let w = worker_with(browser, &site, LONG, bakery()).await;
    photos_answered(&w, Answer::too_many_requests(300), None);
    let job = w.prompt("A site for my bakery", None).await;

    process(&w.env, job).await.unwrap();
    settle(&w).await;

    assert_eq!(w.state(job).await, "preview_ready");
    assert_eq!(
        photo_uploads(&w).await.len(),
        1,
        "the chat waits out the 429 before its next photo"
    );
    assert_eq!(screenshots_recorded(&w).await, 0);
    assert_eq!(
        w.count("SELECT count(*) FROM telegram_outbox WHERE state = 'pending' AND kind = 'photo'")
            .await,
        2,
        "both photos stay queued for when the wait is over"
    );
    let paused: bool = sqlx::query_scalar(
        "SELECT next_send_at > now() + interval '250 seconds' FROM telegram_chats WHERE chat_id = $1",
    )
    .bind(CHAT)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert!(paused, "the chat is paused for Telegram's retry_after");
}

#[tokio::test]
async fn a_preview_that_does_not_serve_the_page_gets_no_photo() {
    let Some(browser) = chromium() else { return };
    // Chromium would photograph the error page; the worker asks first.
    let site = preview(502, Duration::ZERO).await;
    let w = worker_with(browser, &site, LONG, bakery()).await;
    photos_answered(&w, photo_taken(), None);
    ready_job(&w, "A site for my bakery").await;
    assert!(photo_uploads(&w).await.is_empty());
}

#[tokio::test]
async fn a_browser_that_cannot_start_sends_no_photo_and_the_version_is_ready() {
    let site = preview(200, Duration::ZERO).await;
    let w = worker_with("/nonexistent/chromium".into(), &site, LONG, bakery()).await;
    photos_answered(&w, photo_taken(), None);
    ready_job(&w, "A site for my bakery").await;
    assert!(photo_uploads(&w).await.is_empty());
}

#[tokio::test]
async fn the_job_does_not_wait_for_its_screenshots() {
    // The preview takes a minute to answer, so the capture cannot finish
    // within this test; the job is done regardless. (No browser runs.)
    let site = preview(200, Duration::from_secs(60)).await;
    let w = worker_with("/nonexistent/chromium".into(), &site, LONG, bakery()).await;
    photos_answered(&w, photo_taken(), None);
    let job = w.prompt("A site for my bakery", None).await;

    tokio::time::timeout(Duration::from_secs(30), process(&w.env, job))
        .await
        .expect("the job finishes while the screenshots wait")
        .unwrap();

    assert_eq!(w.state(job).await, "preview_ready");
    assert_eq!(w.env.side_tasks.len(), 1, "the screenshots are still on");
    assert!(photo_uploads(&w).await.is_empty());
}
