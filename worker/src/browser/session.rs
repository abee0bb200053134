//! One Chromium process and the DevTools calls a run makes: load a page,
//! watch what it does, evaluate checks, take screenshots.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chromiumoxide::{
    browser::BrowserConfig,
    cdp::{
        IntoEventKind,
        browser_protocol::{
            emulation::SetDeviceMetricsOverrideParams,
            network::{
                EventLoadingFailed, EventLoadingFinished, EventRequestWillBeSent,
                EventResponseReceived,
            },
            page::CaptureScreenshotFormat,
        },
        js_protocol::runtime::{
            ConsoleApiCalledType, EvaluateParams, EventConsoleApiCalled, EventExceptionThrown,
            ExceptionDetails, RemoteObjectType, TerminateExecutionParams, TimeDelta,
        },
    },
    listeners::EventStream,
    page::{Page, ScreenshotParams},
};
use futures::StreamExt;
use pagesmith::marked_processes::{MARKER_VAR, kill_marked};

use super::{
    BrowserError, PageReport, SCREENS, Shot, Timeouts, Verdict,
    expression::{comparison_left, describe},
    guard::{self, Guard},
    png_size,
};

/// No request in flight for this long counts as network idle (as
/// Playwright's `networkidle`).
const QUIET: Duration = Duration::from_millis(500);

/// Most of one kind of page problem kept; a page that logs in a loop does
/// not fill the report.
const MAX_PROBLEMS: usize = 20;

/// A running Chromium; killed by [`Session::close`], or when dropped.
pub(super) struct Session {
    browser: chromiumoxide::Browser,
    marker: String,
    handler: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Session {
    /// Starts Chromium with a fresh profile, every request through `guard`.
    pub async fn launch(
        path: &Path,
        marker: &str,
        guard: &Guard,
        timeout: Duration,
    ) -> Result<Self, BrowserError> {
        let launch_error = |error: String| BrowserError::Launch {
            browser: path.display().to_string(),
            error,
        };
        let profile = tempfile::tempdir().map_err(|e| launch_error(e.to_string()))?;
        let config = BrowserConfig::builder()
            .chrome_executable(path)
            .new_headless_mode()
            .no_sandbox()
            .user_data_dir(profile.path())
            // Each run sets its own screen; no default 800×600 emulation.
            .viewport(None)
            // Marks every process of this browser (children inherit it).
            .env(MARKER_VAR, marker)
            .launch_timeout(timeout)
            .request_timeout(timeout)
            // chromiumoxide adds the leading dashes.
            .args([
                "disable-gpu",
                "no-first-run",
                "disable-background-networking",
                "disable-component-update",
                "disable-sync",
                "disable-default-apps",
                "disable-domain-reliability",
                "disable-client-side-phishing-detection",
                "no-default-browser-check",
                "no-pings",
                // Loopback too goes through the guard, not around it.
                "proxy-bypass-list=<-loopback>",
                // WebRTC may not open UDP around the proxy.
                "force-webrtc-ip-handling-policy=disable_non_proxied_udp",
            ])
            .arg(("proxy-server", format!("http://{}", guard.addr()).as_str()))
            .arg((
                "unsafely-treat-insecure-origin-as-secure",
                format!("http://{}", guard::SITE_HOST).as_str(),
            ))
            .build()
            .map_err(launch_error)?;
        let (browser, mut handler) = chromiumoxide::Browser::launch(config).await.map_err(|e| {
            // Whatever it started before failing goes too.
            kill_marked(marker);
            launch_error(e.to_string())
        })?;
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event {
                    tracing::debug!(error = %e, "DevTools message not understood");
                }
            }
        });
        Ok(Self {
            browser,
            marker: marker.to_owned(),
            handler,
            _profile: profile,
        })
    }

    /// Loads `url`, waits for it to settle, and evaluates `expressions`.
    pub async fn check(
        &self,
        url: &str,
        expressions: &[String],
        timeouts: Timeouts,
    ) -> Result<PageReport, BrowserError> {
        let (page, watch) = self.blank_page().await?;
        load(&page, &watch, url, timeouts).await;
        let mut verdicts = Vec::with_capacity(expressions.len());
        for expression in expressions {
            verdicts.push(verdict(&page, expression, timeouts.check).await);
        }
        // Only once every check has run: a left side with side effects
        // (`i++ < 3`) then changes nothing another check sees.
        for (expression, verdict) in expressions.iter().zip(&mut verdicts) {
            explain(&page, expression, verdict, timeouts.check).await;
        }
        let seen = watch.seen.lock().map(|s| s.clone()).unwrap_or_default();
        let site = format!("http://{}{}", guard::SITE_HOST, guard::SITE_PREFIX);
        Ok(PageReport {
            verdicts,
            exceptions: seen.exceptions,
            console_errors: seen.console_errors,
            failed_requests: seen
                .failed
                .into_iter()
                .map(|(status, url)| {
                    let file = url.strip_prefix(&site).unwrap_or(&url);
                    format!("{status} {}", if file.is_empty() { "/" } else { file })
                })
                .collect(),
            blocked: Vec::new(),
        })
    }

    /// Loads `url` and photographs it on each screen.
    pub async fn screenshots(
        &self,
        url: &str,
        timeouts: Timeouts,
    ) -> Result<Vec<Shot>, BrowserError> {
        let (page, watch) = self.blank_page().await?;
        let mut shots = Vec::with_capacity(SCREENS.len());
        for (i, (label, width, height, mobile)) in SCREENS.into_iter().enumerate() {
            page.execute(SetDeviceMetricsOverrideParams::new(
                i64::from(width),
                i64::from(height),
                1.0,
                mobile,
            ))
            .await
            .map_err(protocol)?;
            if i == 0 {
                load(&page, &watch, url, timeouts).await;
            } else {
                // A new width re-lays the page out; give it a moment.
                tokio::time::sleep(timeouts.settle).await;
            }
            let png = page
                .screenshot(
                    ScreenshotParams::builder()
                        .format(CaptureScreenshotFormat::Png)
                        .build(),
                )
                .await
                .map_err(protocol)?;
            if png_size(&png).is_none() {
                return Err(BrowserError::NoImage(format!(
                    "{} bytes, not a PNG",
                    png.len()
                )));
            }
            shots.push(Shot {
                label,
                width,
                height,
                png,
            });
        }
        Ok(shots)
    }

    /// A blank page with its events watched, so nothing its navigation
    /// does is missed.
    async fn blank_page(&self) -> Result<(Page, Watch), BrowserError> {
        let page = self
            .browser
            .new_page("about:blank")
            .await
            .map_err(protocol)?;
        let watch = Watch::start(&page).await?;
        Ok((page, watch))
    }

    /// Ends Chromium: asks it to close, then kills what is left and reaps it.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.browser.close()).await;
        let _ = self.browser.kill().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.browser.wait()).await;
        // Renderers and helpers that outlived their parent go too. This
        // holds the browser's turn, so it waits at most 2 s; dropping the
        // session signals any straggler once more.
        for _ in 0..20 {
            if kill_marked(&self.marker) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Dropped without `close` (a run cut off): kill every process of
        // the browser now; chromiumoxide's kill_on_drop reaps the main one.
        kill_marked(&self.marker);
        self.handler.abort();
    }
}

/// Navigates and waits for network idle plus the settle time. A page that
/// never finishes loading is checked as it stands when the wait runs out:
/// the evaluator's grader would see the same page.
async fn load(page: &Page, watch: &Watch, url: &str, timeouts: Timeouts) {
    let navigation_limit = timeouts.run / 2;
    match tokio::time::timeout(navigation_limit, page.goto(url)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "navigation reported an error"),
        Err(_) => {
            // A script that never yields holds the page: stop it so the
            // checks can run.
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                page.execute(TerminateExecutionParams::default()),
            )
            .await;
        }
    }
    watch.network_idle(navigation_limit).await;
    tokio::time::sleep(timeouts.settle).await;
}

/// What a page did, gathered from its DevTools events.
#[derive(Debug, Clone, Default)]
struct Seen {
    exceptions: Vec<String>,
    console_errors: Vec<String>,
    /// (status or error, URL) of the site's own requests that failed.
    failed: Vec<(String, String)>,
    /// Requests started and not yet answered: id → URL.
    in_flight: HashMap<String, String>,
    /// Requests whose end was read before their start.
    ended: HashSet<String>,
    last_activity: Option<Instant>,
}

impl Seen {
    /// Marks request `id` answered; its URL, if its start was seen.
    fn end(&mut self, id: &str) -> Option<String> {
        let url = self.in_flight.remove(id);
        if url.is_none() {
            self.ended.insert(id.to_owned());
        }
        url
    }
}

struct Watch {
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watch {
    /// Subscribes before the page navigates, so nothing is missed.
    async fn start(page: &Page) -> Result<Self, BrowserError> {
        let mut console = listen::<EventConsoleApiCalled>(page).await?;
        let mut exceptions = listen::<EventExceptionThrown>(page).await?;
        let mut sent = listen::<EventRequestWillBeSent>(page).await?;
        let mut responses = listen::<EventResponseReceived>(page).await?;
        let mut finished = listen::<EventLoadingFinished>(page).await?;
        let mut failed = listen::<EventLoadingFailed>(page).await?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        let site = format!("http://{}/", guard::SITE_HOST);
        let task = tokio::spawn(async move {
            let note = |f: &mut dyn FnMut(&mut Seen)| {
                if let Ok(mut seen) = shared.lock() {
                    f(&mut seen);
                    seen.last_activity = Some(Instant::now());
                }
            };
            loop {
                // Each event type has its own channel, so a request's end
                // can be read before its start: starts go first, and an end
                // seen first is remembered.
                tokio::select! {
                    biased;
                    Some(event) = sent.next() => {
                        let (id, url) = (event.request_id.inner().clone(), event.request.url.clone());
                        note(&mut |s| {
                            if !s.ended.remove(&id) {
                                s.in_flight.insert(id.clone(), url.clone());
                            }
                        });
                    }
                    Some(event) = responses.next() => {
                        let (id, status, url) = (
                            event.request_id.inner().clone(),
                            event.response.status,
                            event.response.url.clone(),
                        );
                        note(&mut |s| {
                            // A response ends the wait: Chromium never says a
                            // fetch whose body is not read has finished.
                            s.end(&id);
                            if status >= 400
                                && url.starts_with(&site)
                                && !is_favicon(&url, &site)
                                && s.failed.len() < MAX_PROBLEMS
                            {
                                s.failed.push((status.to_string(), url.clone()));
                            }
                        });
                    }
                    Some(event) = finished.next() => {
                        let id = event.request_id.inner().clone();
                        note(&mut |s| {
                            s.end(&id);
                        });
                    }
                    Some(event) = failed.next() => {
                        let id = event.request_id.inner().clone();
                        let error = event.error_text.clone();
                        let canceled = event.canceled.unwrap_or(false);
                        note(&mut |s| {
                            if let Some(url) = s.end(&id)
                                && url.starts_with(&site)
                                && !is_favicon(&url, &site)
                                && !canceled
                                && s.failed.len() < MAX_PROBLEMS
                            {
                                s.failed.push((error.clone(), url));
                            }
                        });
                    }
                    Some(event) = console.next() => {
                        if event.r#type == ConsoleApiCalledType::Error {
                            let text = event
                                .args
                                .iter()
                                .map(|a| match &a.value {
                                    Some(serde_json::Value::String(s)) => s.clone(),
                                    Some(other) => other.to_string(),
                                    None => a.description.clone().unwrap_or_default(),
                                })
                                .collect::<Vec<_>>()
                                .join(" ");
                            note(&mut |s| push(&mut s.console_errors, text.clone()));
                        }
                    }
                    Some(event) = exceptions.next() => {
                        let text = exception_text(&event.exception_details);
                        note(&mut |s| push(&mut s.exceptions, text.clone()));
                    }
                    else => break,
                }
            }
        });
        Ok(Self { seen, task })
    }

    /// Waits until no request has been in flight for [`QUIET`], or `limit`.
    async fn network_idle(&self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            let idle = self.seen.lock().map_or(true, |s| {
                s.in_flight.is_empty() && s.last_activity.is_none_or(|t| t.elapsed() >= QUIET)
            });
            if idle {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The browser asks for `/favicon.ico` on its own; GitHub Pages answers 404
/// for a site without one, and no grader counts that against the page.
fn is_favicon(url: &str, site: &str) -> bool {
    url.strip_prefix(site) == Some("favicon.ico")
}

/// Keeps at most [`MAX_PROBLEMS`] items of at most 300 characters: what a
/// page logs reaches the report and the (paid) repair prompt.
fn push(list: &mut Vec<String>, item: String) {
    if list.len() < MAX_PROBLEMS {
        list.push(crate::text::shorten(&item, 300));
    }
}

/// "TypeError: x is null", without the stack; a thrown non-error as its
/// value; else Chromium's own words ("Uncaught").
fn exception_text(details: &ExceptionDetails) -> String {
    let exception = details.exception.as_ref();
    let text = exception
        .and_then(|e| e.description.clone())
        .or_else(|| {
            exception
                .and_then(|e| e.value.as_ref())
                .map(|v| describe(Some(v)))
        })
        .unwrap_or_else(|| details.text.clone());
    text.lines().next().unwrap_or_default().to_owned()
}

/// Evaluates a check.
async fn verdict(page: &Page, expression: &str, limit: Duration) -> Verdict {
    match evaluate(page, expression, limit).await {
        Evaluated::Value(Some(serde_json::Value::Bool(true))) => Verdict::Passed,
        Evaluated::Value(value) => Verdict::Returned {
            value: describe(value.as_ref()),
            left: None,
        },
        Evaluated::Threw(error) => Verdict::Threw(error),
        Evaluated::TimedOut => Verdict::TimedOut(limit),
    }
}

/// For a failed comparison, what its left side is now.
async fn explain(page: &Page, expression: &str, verdict: &mut Verdict, limit: Duration) {
    let Verdict::Returned { left, .. } = verdict else {
        return;
    };
    let Some(side) = comparison_left(expression) else {
        return;
    };
    if let Evaluated::Value(value) = evaluate(page, side, limit).await {
        *left = Some((side.to_owned(), describe(value.as_ref())));
    }
}

enum Evaluated {
    Value(Option<serde_json::Value>),
    Threw(String),
    TimedOut,
}

/// Runs one expression as Playwright's `page.evaluate` would: a promise is
/// awaited, a function is called. A synchronous loop is stopped by V8 after
/// `limit`; a promise that never settles by terminating execution.
async fn evaluate(page: &Page, expression: &str, limit: Duration) -> Evaluated {
    let first = evaluate_once(page, expression, limit).await;
    match first {
        Once::Function => evaluate_once(page, &format!("({expression})()"), limit)
            .await
            .into(),
        other => other.into(),
    }
}

enum Once {
    Value(Option<serde_json::Value>),
    Function,
    Threw(String),
    TimedOut,
}

impl From<Once> for Evaluated {
    fn from(once: Once) -> Self {
        match once {
            Once::Value(v) => Evaluated::Value(v),
            // A function that returns a function is not `true`.
            Once::Function => Evaluated::Value(Some(serde_json::Value::String("function".into()))),
            Once::Threw(e) => Evaluated::Threw(e),
            Once::TimedOut => Evaluated::TimedOut,
        }
    }
}

async fn evaluate_once(page: &Page, expression: &str, limit: Duration) -> Once {
    let params = EvaluateParams::builder()
        .expression(expression)
        .return_by_value(true)
        .await_promise(true)
        .timeout(TimeDelta::new(limit.as_millis() as f64))
        .build();
    let Ok(params) = params else {
        return Once::Threw("the check could not be sent".into());
    };
    // V8's own timeout covers synchronous code; this one a pending promise.
    let grace = limit + Duration::from_millis(500);
    let started = Instant::now();
    let answer = tokio::time::timeout(grace, page.execute(params)).await;
    // Chromium answers a check V8 stopped at its timeout with an internal
    // error rather than a result.
    let stopped = started.elapsed() >= limit;
    match answer {
        Err(_) => {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                page.execute(TerminateExecutionParams::default()),
            )
            .await;
            Once::TimedOut
        }
        Ok(Err(e)) if stopped || e.to_string().contains("terminated") => Once::TimedOut,
        Ok(Err(e)) => Once::Threw(e.to_string()),
        Ok(Ok(response)) => {
            let result = &response.result;
            if let Some(details) = &result.exception_details {
                let text = exception_text(details);
                return if text.contains("Execution was terminated") {
                    Once::TimedOut
                } else {
                    Once::Threw(text)
                };
            }
            if result.result.r#type == RemoteObjectType::Function {
                return Once::Function;
            }
            Once::Value(result.result.value.clone().or_else(|| {
                result
                    .result
                    .unserializable_value
                    .as_ref()
                    .map(|u| serde_json::Value::String(u.inner().clone()))
            }))
        }
    }
}

/// A stream of one kind of the page's events.
async fn listen<T: IntoEventKind + Unpin>(page: &Page) -> Result<EventStream<T>, BrowserError> {
    page.event_listener::<T>().await.map_err(protocol)
}

fn protocol(e: chromiumoxide::error::CdpError) -> BrowserError {
    BrowserError::Protocol(e.to_string())
}
