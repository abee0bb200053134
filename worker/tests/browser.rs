//! The browser checks in real headless Chromium: what a check returns,
//! throws or hangs on, what the page logs and fails to load, and what it
//! may reach. Skipped without Chromium, unless `PAGESMITH_REQUIRE_BROWSER`
//! is set (`scripts/test` installs it and sets it).

use std::time::Duration;

use pagesmith::{bundle::BundleFile, domain::SitePath};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
use worker::browser::{Browser, PageReport, Timeouts, Verdict};

fn browser() -> Option<Browser> {
    testkit::browser_or_skip(Browser::find(), "chromium").map(|path| {
        Browser::new(
            path,
            Timeouts {
                run: Duration::from_secs(60),
                check: Duration::from_millis(1500),
                ..Timeouts::default()
            },
        )
    })
}

fn site(files: &[(&str, &str)]) -> Vec<BundleFile> {
    files
        .iter()
        .map(|(path, body)| BundleFile {
            path: SitePath::parse(path).unwrap(),
            bytes: body.as_bytes().to_vec(),
        })
        .collect()
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body>{body}</body></html>"
    )
}

async fn run(browser: &Browser, files: &[(&str, &str)], checks: &[&str]) -> PageReport {
    let checks: Vec<String> = checks.iter().map(|c| c.to_string()).collect();
    browser
        .check_site(&site(files), &checks, None)
        .await
        .expect("the page runs")
}

/// Processes of `browser` still alive (it marks them in their environment,
/// and every child inherits it).
/// The browser's processes still alive once they have had 10 s to die:
/// SIGKILLed processes take a moment to go on a loaded machine.
async fn processes_gone(browser: &Browser) -> usize {
    for _ in 0..100 {
        if processes_of(browser) == 0 {
            return 0;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    processes_of(browser)
}

fn processes_of(browser: &Browser) -> usize {
    let marker = format!("PAGESMITH_BROWSER={}", browser.marker());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            std::fs::read(entry.path().join("environ")).is_ok_and(|environ| {
                environ
                    .split(|b| *b == 0)
                    .any(|var| var == marker.as_bytes())
            })
        })
        .count()
}

#[tokio::test]
async fn only_true_passes_and_a_failed_comparison_says_what_it_saw() {
    let Some(browser) = browser() else { return };
    let index = page(
        "Tide Tally",
        "<p id=\"total\">12</p><script>document.getElementById('total').textContent = String(6 * 7);</script>",
    );
    let report = run(
        &browser,
        &[("index.html", &index)],
        &[
            "document.title === 'Tide Tally'",
            "document.title === 'Sales Summary 4c2d9'",
            "parseFloat(document.querySelector('#total').textContent) === 42",
            "1",
            "'true'",
            "new Promise(r => setTimeout(() => r(true), 50))",
            "() => document.title.length > 3",
        ],
    )
    .await;
    assert_eq!(report.verdicts[0], Verdict::Passed);
    assert_eq!(
        report.verdicts[1],
        Verdict::Returned {
            value: "false".into(),
            left: Some(("document.title".into(), "'Tide Tally'".into())),
        }
    );
    assert_eq!(
        report.verdicts[2],
        Verdict::Passed,
        "scripts ran before the checks"
    );
    assert!(matches!(&report.verdicts[3], Verdict::Returned { value, .. } if value == "1"));
    assert!(matches!(&report.verdicts[4], Verdict::Returned { value, .. } if value == "'true'"));
    assert_eq!(report.verdicts[5], Verdict::Passed, "promises are awaited");
    assert_eq!(report.verdicts[6], Verdict::Passed, "functions are called");
    assert!(report.exceptions.is_empty() && report.console_errors.is_empty());
    browser.idle().await;
    assert_eq!(processes_gone(&browser).await, 0, "nothing left running");
}

#[tokio::test]
async fn a_throwing_check_fails_with_its_error_and_a_hanging_one_is_cut_off() {
    let Some(browser) = browser() else { return };
    let index = page("Hang", "<h1>hi</h1>");
    let report = run(
        &browser,
        &[("index.html", &index)],
        &[
            "document.querySelector('#missing').textContent === 'x'",
            "while (true) {}",
            "new Promise(() => {})",
            // The page still answers after both.
            "document.title === 'Hang'",
        ],
    )
    .await;
    assert!(
        matches!(&report.verdicts[0], Verdict::Threw(e) if e.contains("TypeError") && e.contains("textContent")),
        "{:?}",
        report.verdicts[0]
    );
    assert_eq!(
        report.verdicts[1],
        Verdict::TimedOut(Duration::from_millis(1500))
    );
    assert_eq!(
        report.verdicts[2],
        Verdict::TimedOut(Duration::from_millis(1500))
    );
    assert_eq!(report.verdicts[3], Verdict::Passed);
    browser.idle().await;
    assert_eq!(processes_gone(&browser).await, 0, "nothing left running");
}

#[tokio::test]
async fn the_page_runs_as_on_pages_and_its_own_errors_are_recorded() {
    let Some(browser) = browser() else { return };
    let index = page(
        "Health",
        r#"<p id="data">none</p><p id="module">none</p>
<script type="module" src="app.mjs"></script>
<script>
localStorage.setItem('visits', '1');
console.error('chart failed', 42);
setTimeout(() => { throw new Error('late failure'); }, 10);
fetch('data.json').then(r => r.json()).then(d => { document.getElementById('data').textContent = d.total; });
fetch('missing.json').catch(() => {});
</script>
<img src="img/logo.png">"#,
    );
    let report = run(
        &browser,
        &[
            ("index.html", &index),
            ("data.json", r#"{"total": 1234.5}"#),
            (
                "app.mjs",
                "import { word } from './word.mjs'; document.getElementById('module').textContent = word;",
            ),
            ("word.mjs", "export const word = 'loaded';"),
        ],
        &[
            "localStorage.getItem('visits') === '1'",
            "document.getElementById('data').textContent === '1234.5'",
            "document.getElementById('module').textContent === 'loaded'",
            "window.isSecureContext === true",
            "location.pathname === '/site/'",
        ],
    )
    .await;
    assert!(
        report.verdicts.iter().all(|v| *v == Verdict::Passed),
        "{:?}",
        report.verdicts
    );
    assert_eq!(report.console_errors, ["chart failed 42"]);
    assert_eq!(report.exceptions.len(), 1, "{:?}", report.exceptions);
    assert!(report.exceptions[0].contains("late failure"));
    let mut failed = report.failed_requests.clone();
    failed.sort();
    assert_eq!(failed, ["404 img/logo.png", "404 missing.json"]);
    assert!(report.blocked.is_empty(), "{:?}", report.blocked);
}

#[tokio::test]
async fn internal_addresses_are_blocked_and_never_reached() {
    let Some(browser) = browser() else { return };
    // Stand-ins for the bot's /health and the worker's metrics port: on
    // loopback, where PostgreSQL and RabbitMQ are too.
    let bot = MockServer::start().await;
    let metrics = MockServer::start().await;
    for server in [&bot, &metrics] {
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string("internal")
                    .insert_header("access-control-allow-origin", "*"),
            )
            .expect(0)
            .mount(server)
            .await;
    }
    let index = page(
        "Probe",
        &format!(
            r#"<p id="health">pending</p><p id="metrics">pending</p><p id="ws">pending</p>
<img src="http://localhost:{metrics_port}/pixel.png">
<script>
const note = (id, text) => document.getElementById(id).textContent = text;
fetch('{bot}/health').then(r => r.text()).then(t => note('health', 'read ' + t), e => note('health', 'refused'));
fetch('http://127.0.0.1:{metrics_port}/metrics').then(r => r.text()).then(t => note('metrics', 'read ' + t), e => note('metrics', 'refused'));
const ws = new WebSocket('ws://127.0.0.1:{metrics_port}/');
ws.onopen = () => note('ws', 'open'); ws.onerror = () => note('ws', 'refused');
</script>"#,
            bot = bot.uri(),
            metrics_port = metrics.address().port(),
        ),
    );
    let report = run(
        &browser,
        &[("index.html", &index)],
        &[
            "document.getElementById('health').textContent === 'refused'",
            "document.getElementById('metrics').textContent === 'refused'",
            "document.getElementById('ws').textContent === 'refused'",
        ],
    )
    .await;
    assert!(
        report.verdicts.iter().all(|v| *v == Verdict::Passed),
        "{:?}",
        report.verdicts
    );
    let blocked = report.blocked.join("\n");
    assert!(blocked.contains("/health"), "{blocked}");
    assert!(blocked.contains("/metrics"), "{blocked}");
    assert!(blocked.contains("pixel.png"), "{blocked}");
    assert!(
        report
            .blocked
            .iter()
            .all(|b| b.contains("internal address")),
        "{blocked}"
    );
    // Both servers verify `.expect(0)` when dropped.
}

#[tokio::test]
async fn a_page_that_never_yields_is_cut_off_and_the_browser_killed() {
    let Some(path) = Browser::find() else {
        testkit::browser_or_skip(None::<()>, "chromium");
        return;
    };
    let browser = Browser::new(
        path,
        Timeouts {
            run: Duration::from_secs(8),
            check: Duration::from_millis(500),
            ..Timeouts::default()
        },
    );
    let index = page(
        "Busy",
        "<script>setTimeout(function spin() { const end = Date.now() + 400; while (Date.now() < end) {} setTimeout(spin, 0); }, 0);</script>",
    );
    let outcome = browser
        .check_site(
            &site(&[("index.html", &index)]),
            &["document.title === 'Busy'".into()],
            Some(Duration::from_secs(6)),
        )
        .await;
    // Either the checks squeezed in between the spins, or the run was cut
    // off at the budget: never longer, never a leftover browser.
    match outcome {
        Ok(report) => assert_eq!(report.verdicts.len(), 1),
        Err(e) => assert!(e.to_string().contains("longer than"), "{e}"),
    }
    browser.idle().await;
    assert_eq!(processes_gone(&browser).await, 0, "nothing left running");
}

#[tokio::test]
async fn a_run_the_deadline_cuts_short_is_not_run_and_not_blamed_on_the_page() {
    let Some(browser) = browser() else { return };
    // The network never goes quiet: the run needs its whole limit.
    let index = page(
        "Busy network",
        "<script>setInterval(() => fetch('data.json?' + Date.now()), 100);</script>",
    );
    let files = site(&[("index.html", &index), ("data.json", "{}")]);
    let checks = worker::stages::check::behaviour::planned(&["js: true".into()], &[]);
    let behaviour = worker::stages::check::behaviour::run(
        Some(&browser),
        &files,
        &checks,
        Some(Duration::from_secs(6)),
    )
    .await;
    browser.idle().await;
    assert!(
        behaviour.results[0]
            .detail
            .starts_with("not run: the deadline left"),
        "{:?}",
        behaviour.results
    );
    assert!(behaviour.problems.is_empty(), "{:?}", behaviour.problems);
    assert_eq!(processes_gone(&browser).await, 0, "nothing left running");
}
