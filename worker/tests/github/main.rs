//! The real GitHub publisher (octocrab) against a fake GitHub (wiremock).

mod failures;
mod fake;
mod pages;
mod publish;
mod reasons;

use std::time::Duration;

use chrono::{DateTime, Utc};
use pagesmith::{bundle::BundleFile, domain::SitePath};
use worker::publish::{PublishError, PublishRequest};

/// Not valid UTF-8: sent base64 like everything else, byte for byte.
pub const LOGO: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff\xfe";

pub fn request(files: &[(&str, &[u8])], message: &str) -> PublishRequest {
    PublishRequest {
        repo_name: fake::REPO.to_owned(),
        description: "Sales summary — built with pagesmith".to_owned(),
        files: files
            .iter()
            .map(|(path, bytes)| BundleFile {
                path: SitePath::parse(path).unwrap(),
                bytes: bytes.to_vec(),
            })
            .collect(),
        message: message.to_owned(),
        // Sub-second precision, as stored; commits carry whole seconds.
        commit_time: DateTime::parse_from_rfc3339("2025-03-01T12:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc),
    }
}

/// A bundle as the worker writes them: `manifest::build` gives every site
/// its `.nojekyll`.
pub fn round_one() -> PublishRequest {
    request(
        &[
            ("index.html", b"<h1>Sales</h1>\n"),
            ("img/logo.png", LOGO),
            (".nojekyll", b""),
        ],
        "Round 1: sales\n\nPublished by pagesmith (version 1).",
    )
}

pub fn round_two() -> PublishRequest {
    request(
        &[
            ("index.html", b"<h1>Sales, by region</h1>\n"),
            ("img/logo.png", LOGO),
            (".nojekyll", b""),
        ],
        "Round 2: sales\n\nPublished by pagesmith (version 2).",
    )
}

/// The `retry_after` of a retryable error; a permanent one fails the test.
pub fn retry_after(error: &PublishError) -> Option<Duration> {
    match error {
        PublishError::Retryable { retry_after, .. } => *retry_after,
        PublishError::Permanent(reason) => panic!("expected retryable, got permanent: {reason}"),
    }
}

/// The reason of a permanent error, which never holds the token.
pub fn permanent(error: PublishError) -> String {
    match error {
        PublishError::Permanent(reason) => {
            assert!(!reason.contains(fake::TOKEN), "the token leaked: {reason}");
            reason
        }
        other => panic!("expected permanent, got {other:?}"),
    }
}
