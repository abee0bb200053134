//! Refusing generated files that carry secrets.
//!
//! An LLM can be talked into printing credentials it saw (or invented
//! plausible ones), and a prompt can smuggle ours in. Every generated text
//! file is scanned before it is stored anywhere; a hit fails the job with a
//! reason that names the file and the kind of secret, never the secret.

use std::sync::LazyLock;

use regex::Regex;
use secrecy::{ExposeSecret, SecretString};

/// Token shapes of well-known providers.
static PATTERNS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        (
            "a GitHub token",
            r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
        ),
        (
            "an OpenAI API key",
            r"\bsk-(proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}",
        ),
        ("an AWS access key id", r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
        (
            "an AWS secret access key",
            r#"(?i)aws_?secret_?access_?key['"]?\s*[:=]\s*['"]?[A-Za-z0-9/+=]{40}"#,
        ),
        (
            "a private key",
            r"-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----",
        ),
        ("a Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
        ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
        ("a Stripe secret key", r"\b[rs]k_live_[0-9A-Za-z]{24,}"),
        ("a Telegram bot token", r"\b\d{8,10}:AA[0-9A-Za-z_-]{33}\b"),
    ]
    .into_iter()
    .map(|(what, re)| (what, Regex::new(re).expect("secret patterns compile")))
    .collect()
});

/// Our own secrets shorter than this are not searched for: a short dev
/// secret would match ordinary words.
const MIN_OWN_SECRET_LEN: usize = 8;

/// A secret found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub what: &'static str,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` contains {}", self.path, self.what)
    }
}

/// Scans files for provider tokens and for any of `own` (our configured
/// secrets). Returns every finding.
pub fn scan<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    own: &[SecretString],
) -> Vec<Finding> {
    let own: Vec<&str> = own
        .iter()
        .map(|s| s.expose_secret())
        .filter(|s| s.len() >= MIN_OWN_SECRET_LEN)
        .collect();
    let mut findings = Vec::new();
    for (path, text) in files {
        if own.iter().any(|secret| text.contains(secret)) {
            findings.push(Finding {
                path: path.to_owned(),
                what: "one of this server's own secrets",
            });
        }
        for (what, pattern) in PATTERNS.iter() {
            if pattern.is_match(text) {
                findings.push(Finding {
                    path: path.to_owned(),
                    what,
                });
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&'static str> {
        scan([("app.js", text)], &[])
            .into_iter()
            .map(|f| f.what)
            .collect()
    }

    #[test]
    fn provider_tokens_are_found() {
        assert_eq!(
            found("const t = 'ghp_0123456789abcdefghijABCDEFGHIJ012345';"),
            ["a GitHub token"]
        );
        assert_eq!(
            found("key: sk-proj-abcdefghijklmnopqrstuvwxyz0123456789AB"),
            ["an OpenAI API key"]
        );
        assert_eq!(found("AKIAIOSFODNN7EXAMPLE"), ["an AWS access key id"]);
        assert_eq!(
            found("-----BEGIN OPENSSH PRIVATE KEY-----\nabc"),
            ["a private key"]
        );
        assert_eq!(
            found("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"),
            ["a Telegram bot token"]
        );
    }

    #[test]
    fn ordinary_code_is_not_flagged() {
        assert!(
            found("const sky = 'skyblue'; // sk-short\nfunction task() { return 42; }").is_empty()
        );
        assert!(found("<p>Call us at 123456789: open 9-5</p>").is_empty());
    }

    #[test]
    fn our_own_secrets_are_found_and_never_echoed() {
        let own = [
            SecretString::from("super-secret-app-key"),
            SecretString::from("short"),
        ];
        let findings = scan(
            [
                ("index.html", "<!-- super-secret-app-key -->"),
                ("a.txt", "short"),
            ],
            &own,
        );
        assert_eq!(findings.len(), 1, "short secrets are not searched");
        let message = findings[0].to_string();
        assert_eq!(
            message,
            "`index.html` contains one of this server's own secrets"
        );
        assert!(!message.contains("super-secret"));
    }
}
