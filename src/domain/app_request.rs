//! An evaluator's task brief, validated at the door.
//!
//! [`AppRequest::parse`] checks every field and reports every problem at once,
//! keyed by the field's path (`attachments[1].url`), so the sender can fix the
//! whole request in one go.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

use super::{DataUri, SitePath, net::is_private_host};

/// What the door accepts.
#[derive(Debug, Clone)]
pub struct AppRequestLimits {
    /// Largest decoded attachment, in bytes.
    pub max_attachment_bytes: usize,
    /// Most attachments in one request.
    pub max_attachments: usize,
    /// Whether `evaluation_url` may point at loopback or private ranges.
    pub allow_private_callbacks: bool,
}

impl Default for AppRequestLimits {
    fn default() -> Self {
        Self {
            max_attachment_bytes: 10 * 1024 * 1024,
            max_attachments: 50,
            allow_private_callbacks: false,
        }
    }
}

/// A valid task brief. The secret is checked before this is built and is not
/// part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRequest {
    pub email: String,
    pub task: String,
    pub round: i32,
    pub nonce: String,
    pub brief: String,
    pub checks: Vec<String>,
    pub evaluation_url: Url,
    pub attachments: Vec<Attachment>,
}

/// A decoded attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: SitePath,
    pub media_type: String,
    pub data: Vec<u8>,
}

impl Attachment {
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.data).into()
    }
}

/// Problems by field path.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| problem.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const MAX_ROUND: i64 = 1_000;
const MAX_ID_CHARS: usize = 200;
const MAX_EMAIL_CHARS: usize = 254;
const MAX_BRIEF_CHARS: usize = 100_000;
const MAX_CHECKS: usize = 200;
const MAX_CHECK_CHARS: usize = 10_000;
const MAX_URL_CHARS: usize = 2_048;

impl AppRequest {
    /// Validates a JSON object. `secret` is ignored here; unknown fields are
    /// ignored too, so evaluators may send more than we read.
    pub fn parse(
        body: &Map<String, Value>,
        limits: &AppRequestLimits,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut text = |name: &str, max: usize, single_line: bool| -> String {
            match body.get(name) {
                None | Some(Value::Null) => errors.add(name, "is required"),
                Some(Value::String(s)) => match check_text(s, max, single_line) {
                    Ok(()) => return s.trim().to_owned(),
                    Err(problem) => errors.add(name, problem),
                },
                Some(other) => {
                    errors.add(name, format!("must be a string, not {}", type_name(other)))
                }
            }
            String::new()
        };

        let email = text("email", MAX_EMAIL_CHARS, true);
        let task = text("task", MAX_ID_CHARS, true);
        let nonce = text("nonce", MAX_ID_CHARS, true);
        let brief = text("brief", MAX_BRIEF_CHARS, false);
        let url = text("evaluation_url", MAX_URL_CHARS, true);

        if !email.is_empty() && !looks_like_email(&email) {
            errors.add("email", "must be an email address such as name@example.com");
        }

        let round = match body.get("round") {
            None | Some(Value::Null) => {
                errors.add("round", "is required");
                0
            }
            Some(Value::Number(n)) => match n.as_i64() {
                Some(r) if (1..=MAX_ROUND).contains(&r) => r as i32,
                _ => {
                    errors.add(
                        "round",
                        format!("must be a whole number from 1 to {MAX_ROUND}"),
                    );
                    0
                }
            },
            Some(other) => {
                errors.add(
                    "round",
                    format!("must be a number, not {}", type_name(other)),
                );
                0
            }
        };

        let evaluation_url = parse_callback_url(&url, limits, &mut errors);
        let checks = parse_checks(body.get("checks"), &mut errors);
        let attachments = parse_attachments(body.get("attachments"), limits, &mut errors);

        match (errors.is_empty(), evaluation_url) {
            (true, Some(evaluation_url)) => Ok(Self {
                email,
                task,
                round,
                nonce,
                brief,
                checks,
                evaluation_url,
                attachments,
            }),
            _ => Err(errors),
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// PostgreSQL cannot store NUL in text, and identifiers must stay on one line.
fn check_text(s: &str, max_chars: usize, single_line: bool) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let chars = s.chars().count();
    if chars > max_chars {
        return Err(format!(
            "is {chars} characters long; the limit is {max_chars}"
        ));
    }
    if s.contains('\0') {
        return Err("must not contain NUL characters".into());
    }
    if single_line && s.chars().any(char::is_control) {
        return Err("must not contain control characters or line breaks".into());
    }
    Ok(())
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

fn parse_callback_url(
    raw: &str,
    limits: &AppRequestLimits,
    errors: &mut FieldErrors,
) -> Option<Url> {
    if raw.is_empty() {
        return None;
    }
    let url = match Url::parse(raw) {
        Ok(url) => url,
        Err(e) => {
            errors.add("evaluation_url", format!("is not a valid URL: {e}"));
            return None;
        }
    };
    if !matches!(url.scheme(), "http" | "https") {
        errors.add(
            "evaluation_url",
            format!("must use http or https, not `{}:`", url.scheme()),
        );
        return None;
    }
    let Some(host) = url.host() else {
        errors.add("evaluation_url", "must name a host");
        return None;
    };
    if !limits.allow_private_callbacks && is_private_host(&host) {
        errors.add(
            "evaluation_url",
            "points at a private or loopback address, which this server does not call",
        );
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        errors.add("evaluation_url", "must not carry credentials");
        return None;
    }
    Some(url)
}

fn parse_checks(value: Option<&Value>, errors: &mut FieldErrors) -> Vec<String> {
    let items = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            errors.add(
                "checks",
                format!("must be an array of strings, not {}", type_name(other)),
            );
            return Vec::new();
        }
    };
    if items.len() > MAX_CHECKS {
        errors.add(
            "checks",
            format!("has {} items; the limit is {MAX_CHECKS}", items.len()),
        );
        return Vec::new();
    }
    let mut checks = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("checks[{i}]");
        match item {
            Value::String(s) => match check_text(s, MAX_CHECK_CHARS, false) {
                Ok(()) => checks.push(s.clone()),
                Err(problem) => errors.add(field, problem),
            },
            other => errors.add(field, format!("must be a string, not {}", type_name(other))),
        }
    }
    checks
}

fn parse_attachments(
    value: Option<&Value>,
    limits: &AppRequestLimits,
    errors: &mut FieldErrors,
) -> Vec<Attachment> {
    let items = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            errors.add(
                "attachments",
                format!(
                    "must be an array of {{name, url}} objects, not {}",
                    type_name(other)
                ),
            );
            return Vec::new();
        }
    };
    if items.len() > limits.max_attachments {
        errors.add(
            "attachments",
            format!(
                "has {} items; the limit is {}",
                items.len(),
                limits.max_attachments
            ),
        );
        return Vec::new();
    }
    let mut seen = HashSet::new();
    let mut attachments = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(obj) = item else {
            errors.add(
                format!("attachments[{i}]"),
                format!(
                    "must be an object with `name` and `url`, not {}",
                    type_name(item)
                ),
            );
            continue;
        };
        let name = match obj.get("name") {
            Some(Value::String(raw)) => match SitePath::parse(raw) {
                Ok(name) if !seen.insert(name.as_str().to_lowercase()) => {
                    errors.add(
                        format!("attachments[{i}].name"),
                        format!("`{name}` is used by another attachment"),
                    );
                    None
                }
                Ok(name) => Some(name),
                Err(e) => {
                    errors.add(
                        format!("attachments[{i}].name"),
                        format!("is not a safe file name: it {e}"),
                    );
                    None
                }
            },
            None | Some(Value::Null) => {
                errors.add(format!("attachments[{i}].name"), "is required");
                None
            }
            Some(other) => {
                errors.add(
                    format!("attachments[{i}].name"),
                    format!("must be a string, not {}", type_name(other)),
                );
                None
            }
        };
        let data = match obj.get("url") {
            Some(Value::String(raw)) => {
                match DataUri::parse(raw).and_then(|d| d.check_declared_type().map(|()| d)) {
                    Ok(d) if d.data.len() > limits.max_attachment_bytes => {
                        errors.add(
                            format!("attachments[{i}].url"),
                            format!(
                                "decodes to {} bytes; the limit is {} bytes",
                                d.data.len(),
                                limits.max_attachment_bytes
                            ),
                        );
                        None
                    }
                    Ok(d) => Some(d),
                    Err(e) => {
                        errors.add(
                            format!("attachments[{i}].url"),
                            format!("is not a valid data URI: it {e}"),
                        );
                        None
                    }
                }
            }
            None | Some(Value::Null) => {
                errors.add(format!("attachments[{i}].url"), "is required");
                None
            }
            Some(other) => {
                errors.add(
                    format!("attachments[{i}].url"),
                    format!("must be a string, not {}", type_name(other)),
                );
                None
            }
        };
        if let (Some(name), Some(uri)) = (name, data) {
            attachments.push(Attachment {
                name,
                media_type: uri.media_type,
                data: uri.data,
            });
        }
    }
    attachments
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "email": "student@example.com",
            "secret": "s",
            "task": "captcha-solver-1",
            "round": 1,
            "nonce": "ab12",
            "brief": "Make a page that shows the captcha image.",
            "checks": ["Repo has MIT license"],
            "evaluation_url": "https://example.com/notify",
            "attachments": [{"name": "sample.png", "url": "data:image/png;base64,iVBORw0KGgo="}]
        })
    }

    fn parse(v: Value) -> Result<AppRequest, FieldErrors> {
        AppRequest::parse(v.as_object().unwrap(), &AppRequestLimits::default())
    }

    #[test]
    fn a_valid_request_parses() {
        let req = parse(valid()).unwrap();
        assert_eq!(req.task, "captcha-solver-1");
        assert_eq!(req.round, 1);
        assert_eq!(req.attachments[0].name.as_str(), "sample.png");
        assert_eq!(req.attachments[0].data, b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn checks_and_attachments_are_optional() {
        let mut v = valid();
        v.as_object_mut().unwrap().remove("checks");
        v.as_object_mut().unwrap().remove("attachments");
        let req = parse(v).unwrap();
        assert!(req.checks.is_empty() && req.attachments.is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let v = json!({
            "email": "nope", "task": "", "round": 0, "nonce": 5, "brief": "x\0y",
            "checks": ["ok", 3], "evaluation_url": "ftp://example.com",
            "attachments": [{"name": "../x", "url": "data:image/png;base64,@@"}]
        });
        let errors = parse(v).unwrap_err().0;
        let fields: Vec<_> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "attachments[0].name",
                "attachments[0].url",
                "brief",
                "checks[1]",
                "email",
                "evaluation_url",
                "nonce",
                "round",
                "task"
            ]
        );
        assert!(errors["evaluation_url"].contains("`ftp:`"));
        assert!(errors["attachments[0].name"].contains(".."));
    }

    #[test]
    fn private_callbacks_are_refused_unless_allowed() {
        let mut v = valid();
        v["evaluation_url"] = json!("http://127.0.0.1:9000/cb");
        assert!(
            parse(v.clone())
                .unwrap_err()
                .0
                .contains_key("evaluation_url")
        );
        let limits = AppRequestLimits {
            allow_private_callbacks: true,
            ..Default::default()
        };
        assert!(AppRequest::parse(v.as_object().unwrap(), &limits).is_ok());
    }

    #[test]
    fn attachment_names_must_be_unique_ignoring_case() {
        let mut v = valid();
        v["attachments"] = json!([
            {"name": "a.txt", "url": "data:,1"},
            {"name": "A.TXT", "url": "data:,2"}
        ]);
        let errors = parse(v).unwrap_err().0;
        assert!(errors["attachments[1].name"].contains("used by another"));
    }

    #[test]
    fn oversized_attachments_are_refused() {
        let mut v = valid();
        v["attachments"] = json!([{"name": "big.txt", "url": format!("data:,{}", "x".repeat(11))}]);
        let limits = AppRequestLimits {
            max_attachment_bytes: 10,
            ..Default::default()
        };
        let errors = AppRequest::parse(v.as_object().unwrap(), &limits)
            .unwrap_err()
            .0;
        assert!(errors["attachments[0].url"].contains("limit is 10 bytes"));
    }
}
