//! The behaviour checks: the site loaded in headless Chromium as GitHub
//! Pages would serve it, every `js:` check of the brief (and the model's
//! reading of the plain-English ones) evaluated in the page, and the page's
//! own health: uncaught errors, console errors, its own files that failed to
//! load, requests the guard refused.
//!
//! Only `true` passes. A check that could not run (no browser on this
//! worker, a browser that failed to start) is reported as not run, never as
//! passed, and is not sent to the generator as the site's fault.

use std::time::Duration;

use pagesmith::{
    bundle::BundleFile,
    db::{
        generations::DerivedCheck,
        versions::{CheckKind, CheckResult},
    },
};

use crate::{
    browser::{Browser, BrowserError, PageReport, Verdict},
    text::shorten,
};

/// Below this much time before the deadline no browser is started.
const MIN_BUDGET: Duration = Duration::from_secs(5);

/// A check to evaluate in the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCheck {
    /// The brief's check, verbatim.
    pub name: String,
    pub kind: CheckKind,
    /// The JavaScript expression that must be `true`.
    pub expression: String,
}

/// The verdicts, and the failures phrased for a repair round.
#[derive(Debug, Default)]
pub struct Behaviour {
    pub results: Vec<CheckResult>,
    pub problems: Vec<String>,
}

/// The expression of a `js:` check (`js: document.title === 'x'`).
pub fn js_expression(check: &str) -> Option<&str> {
    let check = check.trim_start();
    let prefix = check.get(..3)?;
    prefix
        .eq_ignore_ascii_case("js:")
        .then(|| check[3..].trim())
        .filter(|e| !e.is_empty())
}

/// The checks to run: the brief's `js:` checks, then the derived ones.
pub fn planned(checks: &[String], derived: &[DerivedCheck]) -> Vec<PageCheck> {
    let brief = checks.iter().filter_map(|check| {
        js_expression(check).map(|expression| PageCheck {
            name: check.clone(),
            kind: CheckKind::Browser,
            expression: expression.to_owned(),
        })
    });
    let derived = derived.iter().map(|d| PageCheck {
        name: d.check.clone(),
        kind: CheckKind::Derived,
        expression: d.js.clone(),
    });
    brief.chain(derived).collect()
}

/// Runs `checks` on `files` in `browser`, or reports them not run.
pub async fn run(
    browser: Option<&Browser>,
    files: &[BundleFile],
    checks: &[PageCheck],
    budget: Option<Duration>,
) -> Behaviour {
    let Some(browser) = browser else {
        return not_run(
            checks,
            "no browser on this worker (install Chromium or set BROWSER)",
        );
    };
    // A run the deadline cuts short says nothing about the page.
    let cut_by_deadline = budget.is_some_and(|b| b < browser.timeouts().run);
    if budget.is_some_and(|b| b < MIN_BUDGET) {
        return not_run(checks, "too close to the deadline to start a browser");
    }
    let expressions: Vec<String> = checks.iter().map(|c| c.expression.clone()).collect();
    match browser.check_site(files, &expressions, budget).await {
        Ok(report) => verdicts(checks, &report),
        Err(BrowserError::Timeout(limit)) if cut_by_deadline => not_run(
            checks,
            &format!("the deadline left {} for the browser", seconds(limit)),
        ),
        Err(BrowserError::Timeout(limit)) => {
            // The page itself kept the browser busy: that is the site's fault.
            let detail = format!(
                "timed out: the page kept the browser busy for more than {}",
                seconds(limit)
            );
            let mut behaviour = not_run(checks, &detail);
            behaviour
                .results
                .push(health("the page loads", vec![detail.clone()], ""));
            behaviour.problems.push(format!("the page loads: {detail}"));
            behaviour
        }
        Err(e) => {
            tracing::warn!(error = %e, "the browser checks could not run");
            not_run(checks, &format!("the browser failed ({e})"))
        }
    }
}

fn not_run(checks: &[PageCheck], why: &str) -> Behaviour {
    Behaviour {
        results: checks
            .iter()
            .map(|c| CheckResult {
                name: c.name.clone(),
                kind: c.kind,
                passed: false,
                detail: format!("not run: {why}"),
            })
            .collect(),
        problems: Vec::new(),
    }
}

fn verdicts(checks: &[PageCheck], report: &PageReport) -> Behaviour {
    let mut behaviour = Behaviour::default();
    for (check, verdict) in checks.iter().zip(&report.verdicts) {
        let passed = matches!(verdict, Verdict::Passed);
        let detail = describe(verdict);
        if !passed {
            behaviour.problems.push(format!(
                "The check `{}` failed in the browser: {detail}",
                check.name
            ));
        }
        behaviour.results.push(CheckResult {
            name: check.name.clone(),
            kind: check.kind,
            passed,
            detail,
        });
    }
    let errors: Vec<String> = report
        .exceptions
        .iter()
        .map(|e| format!("uncaught {e}"))
        .chain(
            report
                .console_errors
                .iter()
                .map(|e| format!("console.error: {e}")),
        )
        .collect();
    let requests: Vec<String> = report
        .failed_requests
        .iter()
        .cloned()
        .chain(report.blocked.iter().map(|b| format!("blocked {b}")))
        .collect();
    for (name, failures, ok) in [
        (
            "the page runs without errors",
            errors,
            "no uncaught errors or console errors",
        ),
        (
            "the page's requests succeed",
            requests,
            "every file of the site loaded; nothing was blocked",
        ),
    ] {
        if !failures.is_empty() {
            behaviour
                .problems
                .push(format!("{name}: {}", failures.join("; ")));
        }
        behaviour.results.push(health(name, failures, ok));
    }
    behaviour
}

fn health(name: &str, failures: Vec<String>, ok: &str) -> CheckResult {
    CheckResult {
        name: name.to_owned(),
        kind: CheckKind::Browser,
        passed: failures.is_empty(),
        detail: if failures.is_empty() {
            ok.to_owned()
        } else {
            let more = failures.len().saturating_sub(5);
            let mut shown: Vec<String> = failures.iter().take(5).map(|f| shorten(f, 200)).collect();
            if more > 0 {
                shown.push(format!("and {more} more"));
            }
            shown.join("; ")
        },
    }
}

/// A verdict as a reviewer (and the repair round) reads it.
pub fn describe(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Passed => "true".to_owned(),
        Verdict::Returned { value, left } => {
            let got = match left {
                Some((expression, value)) => {
                    format!("; `{}` is {value}", shorten(expression, 60))
                }
                None => String::new(),
            };
            if value == "false" {
                format!("returned false{got}")
            } else {
                format!("returned {value}, not true{got}")
            }
        }
        Verdict::Threw(error) => format!("threw {}", shorten(error, 200)),
        Verdict::TimedOut(limit) => format!("timed out after {}", seconds(*limit)),
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_checks_are_recognised_and_plain_english_is_not() {
        assert_eq!(
            js_expression("js: document.title === 'x'"),
            Some("document.title === 'x'")
        );
        assert_eq!(js_expression("  JS:1 === 1"), Some("1 === 1"));
        assert_eq!(js_expression("js:"), None);
        assert_eq!(js_expression("Repo has MIT license"), None);
        assert_eq!(js_expression("j"), None);
    }

    #[test]
    fn brief_checks_come_first_then_derived_ones() {
        let plan = planned(
            &[
                "js: document.title === 'A'".into(),
                "Page shows the total".into(),
            ],
            &[DerivedCheck {
                check: "Page shows the total".into(),
                js: "!!document.querySelector('#total')".into(),
            }],
        );
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0].kind, CheckKind::Browser);
        assert_eq!(plan[0].name, "js: document.title === 'A'");
        assert_eq!(plan[0].expression, "document.title === 'A'");
        assert_eq!(plan[1].kind, CheckKind::Derived);
        assert_eq!(plan[1].name, "Page shows the total");
    }

    #[test]
    fn failures_say_what_the_page_returned() {
        assert_eq!(
            describe(&Verdict::Returned {
                value: "false".into(),
                left: Some(("document.title".into(), "'Tide Tally'".into())),
            }),
            "returned false; `document.title` is 'Tide Tally'"
        );
        assert_eq!(
            describe(&Verdict::Returned {
                value: "1".into(),
                left: None
            }),
            "returned 1, not true"
        );
        assert_eq!(
            describe(&Verdict::TimedOut(Duration::from_millis(2000))),
            "timed out after 2.0 s"
        );
    }

    #[tokio::test]
    async fn too_close_to_the_deadline_no_browser_starts_and_the_site_is_not_blamed() {
        // Were it started, this browser would fail to launch.
        let browser = Browser::new("/nonexistent/chromium".into(), Default::default());
        let checks = planned(&["js: true".into()], &[]);
        let behaviour = run(Some(&browser), &[], &checks, Some(Duration::from_secs(1))).await;
        assert_eq!(
            behaviour.results[0].detail,
            "not run: too close to the deadline to start a browser"
        );
        assert!(!behaviour.results[0].passed);
        assert!(behaviour.problems.is_empty());
    }

    #[tokio::test]
    async fn without_a_browser_nothing_passes_and_nothing_is_blamed_on_the_site() {
        let checks = planned(&["js: true".into()], &[]);
        let behaviour = run(None, &[], &checks, None).await;
        assert_eq!(behaviour.results.len(), 1);
        assert!(!behaviour.results[0].passed);
        assert!(
            behaviour.results[0]
                .detail
                .starts_with("not run: no browser")
        );
        assert!(behaviour.problems.is_empty());
    }
}
