//! The screenshots under a ready message: headless Chromium renders the
//! live preview (served by the real preview server) at desktop and mobile
//! sizes, and both PNGs reach the chat with `sendPhoto`.

use std::time::Duration;

use e2e::{Stack, StackOptions};
use serde_json::json;
use worker::browser::{Browser, png_size};

const CHAT: i64 = 4711;

/// Chromium's path; `None` (skip) without it, unless the run demands the
/// browser (`scripts/test` installs it and sets `PAGESMITH_REQUIRE_BROWSER=1`).
fn browser() -> Option<String> {
    testkit::browser_or_skip(Browser::find(), "chromium").map(|path| path.display().to_string())
}

fn prompt(update_id: i64) -> serde_json::Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": 1, "date": 1_700_000_000,
            "chat": {"id": CHAT, "type": "private", "first_name": "Ada"},
            "from": {"id": CHAT, "is_bot": false, "first_name": "Ada"},
            "text": "A bakery homepage with our opening hours and a contact form"
        }
    })
}

/// The bodies of every `sendPhoto` the fake Bot API received.
fn photos(stack: &Stack) -> Vec<Vec<u8>> {
    stack
        .telegram
        .calls_of("sendphoto")
        .into_iter()
        .map(|c| c.raw)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ready_version_gets_desktop_and_mobile_screenshots_of_its_live_preview() {
    let Some(browser) = browser() else {
        return;
    };
    let stack = Stack::start(StackOptions {
        worker_env: vec![("SCREENSHOT_BROWSER", browser)],
        ..StackOptions::default()
    })
    .await;
    assert_eq!(stack.post_update(&prompt(70_001)).await.status(), 200);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let bodies = loop {
        let bodies = photos(&stack);
        if bodies.len() >= 2 || tokio::time::Instant::now() > deadline {
            break bodies;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(bodies.len(), 2, "desktop and mobile, once each");

    let mut sizes = Vec::new();
    for body in &bodies {
        let text = String::from_utf8_lossy(body);
        assert!(
            text.contains(&CHAT.to_string()),
            "sent to the requester's chat"
        );
        assert!(
            text.contains(&format!("http://{}/p/", stack.preview)),
            "the caption links the live preview"
        );
        assert!(
            text.contains(&format!("http://{}/s/", stack.preview)),
            "and the safe view"
        );
        let png = testkit::png_in(body);
        sizes.push(png_size(png).expect("a valid PNG header"));
        assert!(png.len() > 1_000, "a rendered page, not an empty image");
    }
    assert_eq!(sizes, [(1280, 800), (390, 844)]);

    // The job itself is unaffected: no more photos come later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(photos(&stack).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_screenshots_off_the_version_is_ready_and_no_photo_is_sent() {
    let stack = Stack::start(StackOptions {
        worker_env: vec![("SCREENSHOT_BROWSER", "off".into())],
        ..StackOptions::default()
    })
    .await;
    assert_eq!(stack.post_update(&prompt(70_002)).await.status(), 200);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ready: i64 = sqlx::query_scalar("SELECT count(*) FROM versions")
            .fetch_one(&stack.db.pool)
            .await
            .unwrap();
        let edits = stack
            .telegram
            .calls()
            .iter()
            .filter(|c| c.text().contains("is ready"))
            .count();
        if ready == 1 && edits >= 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(photos(&stack).is_empty(), "no screenshots when off");
}
