//! Asking the model for derived checks: the brief's plain-English checks as
//! JavaScript assertions a browser can evaluate, and reading its answer.
//!
//! The answer is untrusted like any generated file: each assertion runs only
//! in the guarded browser, must belong to one of the checks asked about, and
//! is bounded in size.

use std::fmt::Write as _;

use pagesmith::db::generations::DerivedCheck;

use super::{SiteRequest, prompt::Prompt};

/// The longest assertion kept.
pub const MAX_ASSERTION: usize = 1000;

const SYSTEM: &str = r#"You turn acceptance checks for a static website into JavaScript assertions.

Each assertion is one JavaScript expression. It is evaluated in the site's front page (index.html) in a browser, after the page has loaded and its network has gone idle, the way Playwright's page.evaluate does: a returned promise is awaited. It must evaluate to exactly `true` when the page passes the check, and to `false` (or throw) when it does not.

Rules:
1. Read the page only: never change the DOM, click, navigate, or write storage.
2. Be exactly as strict as the check: test the ids, texts and values it names, no more.
3. Some checks cannot be seen in the page: about the repository, the README, the license, code quality, or anything subjective. For those, give null.
4. Keep each expression short (under 300 characters where possible).

Answer with ONLY a JSON object, no prose and no Markdown fences, of this shape:
{"checks":[{"check":"<the check, verbatim>","js":"<expression>"},{"check":"<another>","js":null}]}"#;

/// The prompt asking for one assertion per check.
pub fn prompt(request: &SiteRequest, checks: &[String]) -> Prompt {
    let mut user = String::new();
    let _ = writeln!(
        user,
        "## The brief the site was built from\n----- BEGIN -----\n{}\n----- END -----\n",
        request.brief.trim()
    );
    user.push_str("## The checks, one per line\n----- BEGIN -----\n");
    for check in checks {
        let _ = writeln!(user, "{}", check.trim());
    }
    user.push_str(
        "----- END -----\n\nAnswer with ONLY {\"checks\":[{\"check\":...,\"js\":...}]}, one entry per check, in order.\n",
    );
    Prompt {
        system: SYSTEM.to_owned(),
        user,
    }
}

/// The assertions in `answer` for the checks asked about. Entries for other
/// checks, empty or oversized expressions, and `null`s are dropped; so are
/// second entries for the same check.
pub fn parse(answer: &str, asked: &[String]) -> Result<Vec<DerivedCheck>, String> {
    let start = answer.find('{').ok_or("the answer holds no JSON object")?;
    let value: serde_json::Value = serde_json::Deserializer::from_str(&answer[start..])
        .into_iter()
        .next()
        .ok_or("the answer holds no JSON object")?
        .map_err(|e| format!("the answer is not JSON: {e}"))?;
    let entries = value
        .get("checks")
        .and_then(|c| c.as_array())
        .ok_or("the answer has no `checks` list")?;
    let mut derived: Vec<DerivedCheck> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        // The check is matched by its text, or failing that by position.
        let named = entry.get("check").and_then(|c| c.as_str()).map(str::trim);
        let check = asked
            .iter()
            .find(|a| Some(a.trim()) == named)
            .or_else(|| named.is_none().then(|| asked.get(index)).flatten());
        let js = entry.get("js").and_then(|j| j.as_str()).map(str::trim);
        let (Some(check), Some(js)) = (check, js) else {
            continue;
        };
        if js.is_empty() || js.len() > MAX_ASSERTION || derived.iter().any(|d| &d.check == check) {
            continue;
        }
        derived.push(DerivedCheck {
            check: check.clone(),
            js: js.to_owned(),
        });
    }
    Ok(derived)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked() -> Vec<String> {
        vec![
            "Page displays the total in #total".into(),
            "Repo has MIT license".into(),
        ]
    }

    #[test]
    fn the_prompt_quotes_the_brief_and_every_check() {
        let request = SiteRequest {
            brief: "Sum the sales.".into(),
            ..SiteRequest::default()
        };
        let prompt = prompt(&request, &asked());
        assert!(prompt.user.contains("Sum the sales."));
        assert!(
            prompt
                .user
                .contains("Page displays the total in #total\nRepo has MIT license\n")
        );
        assert!(prompt.system.contains("exactly `true`"));
    }

    #[test]
    fn assertions_are_kept_for_checks_that_were_asked_about() {
        let answer = r#"Here you go: {"checks":[
            {"check":"Page displays the total in #total","js":"!!document.querySelector('#total')"},
            {"check":"Repo has MIT license","js":null},
            {"check":"Something never asked","js":"true"},
            {"check":"Page displays the total in #total","js":"false"}
        ]} thanks"#;
        assert_eq!(
            parse(answer, &asked()).unwrap(),
            vec![DerivedCheck {
                check: "Page displays the total in #total".into(),
                js: "!!document.querySelector('#total')".into(),
            }]
        );
    }

    #[test]
    fn unnamed_entries_match_by_position_and_oversized_ones_are_dropped() {
        let long = "1".repeat(MAX_ASSERTION + 1);
        let answer = format!(r#"{{"checks":[{{"js":"1 === 1"}},{{"js":"{long}"}}]}}"#);
        let derived = parse(&answer, &asked()).unwrap();
        assert_eq!(derived.len(), 1);
        assert_eq!(derived[0].check, "Page displays the total in #total");
    }

    #[test]
    fn answers_without_checks_are_errors_that_say_so() {
        assert!(
            parse("no json here", &asked())
                .unwrap_err()
                .contains("no JSON")
        );
        assert!(
            parse("{\"files\": []}", &asked())
                .unwrap_err()
                .contains("`checks`")
        );
        assert!(
            parse("{not json", &asked())
                .unwrap_err()
                .contains("not JSON")
        );
    }
}
