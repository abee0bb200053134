//! How a version's checks read to a person (the ready message, /history):
//! structure and behaviour apart, every failure with what it saw, and never
//! "passed" for what was not checked.

use pagesmith::db::versions::{CheckKind, CheckResult};

use crate::{telegram::escape, text::shorten};

/// Failures listed by name before the rest are only counted.
const LISTED_FAILURES: usize = 8;

/// Passed and total, for structure and for behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub structure: (usize, usize),
    pub behaviour: (usize, usize),
}

pub fn tally(checks: &[CheckResult]) -> Tally {
    let count = |behaviour: bool| {
        let of_kind = checks.iter().filter(|c| c.kind.is_behaviour() == behaviour);
        let total = of_kind.clone().count();
        (of_kind.filter(|c| c.passed).count(), total)
    };
    Tally {
        structure: count(false),
        behaviour: count(true),
    }
}

/// One line for /history: "structure 7/7, behaviour 3/5".
pub fn short(checks: &[CheckResult]) -> String {
    let Tally {
        structure: (sp, st),
        behaviour: (bp, bt),
    } = tally(checks);
    if bt == 0 {
        format!("structure {sp}/{st}, behaviour not checked")
    } else {
        format!("structure {sp}/{st}, behaviour {bp}/{bt}")
    }
}

/// The ready message's check section (Telegram HTML).
pub fn section(checks: &[CheckResult]) -> String {
    let Tally {
        structure,
        behaviour,
    } = tally(checks);
    let mut lines = vec![line("Structure (the files)", structure)];
    lines.push(if behaviour.1 == 0 {
        "➖ Behaviour: not checked in a browser".to_owned()
    } else {
        line("Behaviour (the page in a browser)", behaviour)
    });
    let failed: Vec<&CheckResult> = checks.iter().filter(|c| !c.passed).collect();
    for check in failed.iter().take(LISTED_FAILURES) {
        let derived = if check.kind == CheckKind::Derived {
            " <i>(derived)</i>"
        } else {
            ""
        };
        lines.push(format!(
            "✗ {}{derived} → {}",
            escape(&shorten(&check.name, 100)),
            escape(&shorten(&check.detail, 160))
        ));
    }
    if failed.len() > LISTED_FAILURES {
        lines.push(format!(
            "… and {} more failed",
            failed.len() - LISTED_FAILURES
        ));
    }
    if checks.iter().any(|c| c.kind == CheckKind::Derived) {
        lines.push(
            "<i>Derived checks are the AI's reading of the brief's plain-English checks.</i>"
                .to_owned(),
        );
    }
    lines.join("\n")
}

fn line(label: &str, (passed, total): (usize, usize)) -> String {
    let icon = if passed == total { "✅" } else { "⚠️" };
    format!("{icon} {label}: {passed}/{total} passed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, kind: CheckKind, passed: bool, detail: &str) -> CheckResult {
        CheckResult {
            name: name.into(),
            kind,
            passed,
            detail: detail.into(),
        }
    }

    #[test]
    fn structure_alone_never_reads_as_all_passed() {
        let checks = vec![
            check("HTML parses", CheckKind::Static, true, "ok"),
            check("LICENSE is MIT", CheckKind::Static, true, "MIT"),
        ];
        let text = section(&checks);
        assert_eq!(
            text,
            "✅ Structure (the files): 2/2 passed\n➖ Behaviour: not checked in a browser"
        );
        assert_eq!(short(&checks), "structure 2/2, behaviour not checked");
    }

    #[test]
    fn each_failure_is_listed_with_what_the_page_returned() {
        let checks = vec![
            check("HTML parses", CheckKind::Static, true, "ok"),
            check(
                "js: document.title === 'Sales <Summary>'",
                CheckKind::Browser,
                false,
                "returned false; `document.title` is 'Tide Tally'",
            ),
            check(
                "the page runs without errors",
                CheckKind::Browser,
                true,
                "none",
            ),
            check(
                "Page shows the total",
                CheckKind::Derived,
                false,
                "returned false",
            ),
        ];
        let text = section(&checks);
        assert_eq!(
            text,
            "✅ Structure (the files): 1/1 passed\n\
             ⚠️ Behaviour (the page in a browser): 1/3 passed\n\
             ✗ js: document.title === &#39;Sales &lt;Summary&gt;&#39; → returned false; `document.title` is &#39;Tide Tally&#39;\n\
             ✗ Page shows the total <i>(derived)</i> → returned false\n\
             <i>Derived checks are the AI's reading of the brief's plain-English checks.</i>"
        );
        assert_eq!(short(&checks), "structure 1/1, behaviour 1/3");
    }

    #[test]
    fn long_lists_of_failures_are_cut() {
        let checks: Vec<CheckResult> = (0..12)
            .map(|i| {
                check(
                    &format!("js: check {i}"),
                    CheckKind::Browser,
                    false,
                    "threw",
                )
            })
            .collect();
        let text = section(&checks);
        assert_eq!(text.matches('✗').count(), LISTED_FAILURES);
        assert!(text.ends_with("… and 4 more failed"), "{text}");
    }
}
