//! The worker's browser keeps generated JavaScript away from the system it
//! runs beside: a page that fetches the real bot's `/health` and the real
//! worker's metrics port has both requests refused by the egress guard
//! (which never connects to a refused address: see the worker's
//! `browser` tests, where such a server sees no request), while both
//! answer the test directly.

use std::time::Duration;

use e2e::{Stack, StackOptions};
use pagesmith::{bundle::BundleFile, domain::SitePath};
use worker::browser::{Browser, Timeouts, Verdict};

#[tokio::test(flavor = "multi_thread")]
async fn a_checked_page_cannot_reach_the_bot_or_the_workers_metrics() {
    let Some(path) = testkit::browser_or_skip(Browser::find(), "chromium") else {
        return;
    };
    let stack = Stack::start(StackOptions::default()).await;
    let bot_health = format!("http://{}/health", stack.bot);
    let metrics = format!("http://{}/metrics", stack.worker_metrics);
    // Both are up and answer anyone who may reach them (the bot's health
    // may say 503 while its relay connects: an answer all the same).
    for url in [&bot_health, &metrics] {
        let direct = stack.client.get(url.as_str()).send().await;
        assert!(direct.is_ok(), "{url} does not answer: {direct:?}");
    }

    let page = format!(
        r#"<!DOCTYPE html><html><head><title>Probe</title></head><body>
<script>
// no-cors: the request goes out whatever the answer's CORS headers say.
fetch('{bot_health}', {{ mode: 'no-cors' }}).catch(() => {{}});
fetch('{metrics}', {{ mode: 'no-cors' }}).catch(() => {{}});
</script></body></html>"#
    );
    let files = [BundleFile {
        path: SitePath::parse("index.html").unwrap(),
        bytes: page.into_bytes(),
    }];
    let browser = Browser::new(
        path,
        Timeouts {
            run: Duration::from_secs(60),
            ..Timeouts::default()
        },
    );
    let report = browser
        .check_site(&files, &["document.title === 'Probe'".into()], None)
        .await
        .unwrap();
    browser.idle().await;

    assert_eq!(report.verdicts, [Verdict::Passed], "the page ran");
    let blocked = report.blocked.join("\n");
    for url in [&bot_health, &metrics] {
        assert!(
            report
                .blocked
                .iter()
                .any(|b| b.starts_with(url.as_str()) && b.contains("internal address")),
            "{url} not among the refused: {blocked}"
        );
    }
}
