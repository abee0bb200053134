//! The bad-input corpus: every case in `bot/tests/corpus/cases.json` is
//! posted to one real bot, and each must get its documented status, a JSON
//! error naming the problem (and the field, for validation errors), and
//! exactly the state it says: nothing at all for a refused request.
//!
//! The data file's own `about` explains the case format. The bot runs with
//! `CALLBACK_ALLOW_PRIVATE=false` and every other limit at its documented
//! default. Its broker connection is cut before the first case, so the
//! relay publishes nothing and every outbox row a request creates stays
//! where the before/after counts see it.
//!
//! All failures are collected and reported together, by case name.

use std::collections::{BTreeMap, HashSet};

use base64::Engine;
use reqwest::{StatusCode, header::CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::helpers::{APP_SECRET, Options, TestBot, WEBHOOK_SECRET, spawn_bot_with};

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/cases.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    #[expect(dead_code, reason = "documentation for people reading the data file")]
    about: Vec<String>,
    /// Named JSON bodies that cases start from.
    templates: BTreeMap<String, Value>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    endpoint: Endpoint,
    /// Replaces a default header; `null` removes it.
    #[serde(default)]
    headers: BTreeMap<String, Option<String>>,
    body: BodySpec,
    /// Send without `Content-Length`, in one chunk.
    #[serde(default)]
    chunked: bool,
    expect: Expect,
    /// Why the expectation is what it is, where that is not obvious.
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for people reading the data file")]
    note: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Endpoint {
    App,
    Telegram,
}

/// Exactly one of `template` (with `set`/`remove` as JSON pointers),
/// `json`, `text` or `base64`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BodySpec {
    template: Option<String>,
    #[serde(default)]
    set: BTreeMap<String, Value>,
    #[serde(default)]
    remove: Vec<String>,
    json: Option<Value>,
    text: Option<Value>,
    base64: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    status: u16,
    /// Must appear in `fields[field]` when `field` is given, else in `error`.
    message: Option<String>,
    /// The only key `fields` may have.
    field: Option<String>,
    /// Rows each counted table gains; every table not named gains none.
    #[serde(default)]
    creates: BTreeMap<String, i64>,
    /// For a case that creates a job: its kind and a subset of its payload.
    job: Option<ExpectedJob>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedJob {
    kind: String,
    #[serde(default)]
    payload: Map<String, Value>,
}

/// What "no partial state" is measured by: every row an accepted request
/// can create at the door.
const COUNTS: &[(&str, &str)] = &[
    ("jobs", "SELECT count(*) FROM jobs"),
    ("outbox", "SELECT count(*) FROM outbox"),
    ("app_requests", "SELECT count(*) FROM app_requests"),
    ("attachments", "SELECT count(*) FROM attachments"),
    ("telegram_updates", "SELECT count(*) FROM telegram_updates"),
    (
        "ignored_updates",
        "SELECT count(*) FROM telegram_updates WHERE job_id IS NULL",
    ),
];

#[tokio::test]
async fn every_bad_input_in_the_corpus_gets_its_documented_answer_and_stores_nothing() {
    let corpus = load();
    let bot = spawn_bot_with(Options {
        proxy_broker: true,
        env: vec![("CALLBACK_ALLOW_PRIVATE", "false".into())],
        ..Options::default()
    })
    .await;
    bot.broker_proxy.as_ref().expect("proxied broker").cut();

    let mut failures = Vec::new();
    for case in &corpus.cases {
        if let Err(problem) = run(&bot, &corpus, case).await {
            failures.push(format!("{}: {problem}", case.name));
        }
    }
    let refused = corpus
        .cases
        .iter()
        .filter(|c| c.expect.status >= 400)
        .count();
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n{}",
        failures.len(),
        corpus.cases.len(),
        failures.join("\n")
    );
    assert!(
        refused >= 100,
        "the corpus has only {refused} refused cases"
    );
}

fn load() -> Corpus {
    let text = std::fs::read_to_string(CASES).expect("the corpus file is readable");
    let corpus: Corpus = serde_json::from_str(&text).expect("the corpus file is well-formed");
    let mut names = HashSet::new();
    let mut update_ids = HashSet::new();
    for case in &corpus.cases {
        assert!(names.insert(&case.name), "{}: duplicate name", case.name);
        let e = &case.expect;
        if e.status >= 400 {
            assert!(
                e.message.is_some(),
                "{}: a refusal needs a message",
                case.name
            );
            assert!(
                e.creates.is_empty(),
                "{}: a refusal creates nothing",
                case.name
            );
        }
        if e.status == 422 {
            assert!(e.field.is_some(), "{}: a 422 names its field", case.name);
        }
        assert!(
            e.creates.keys().all(|k| COUNTS.iter().any(|(n, _)| n == k)),
            "{}: unknown table in `creates`",
            case.name
        );
        // A Telegram update id used twice would be answered as a duplicate.
        if case.endpoint == Endpoint::Telegram && e.status == 200 {
            let id = body_json(&corpus, case).expect("an accepted update is JSON")["update_id"]
                .as_i64()
                .expect("an accepted update has an id");
            assert!(
                update_ids.insert(id),
                "{}: update_id {id} reused",
                case.name
            );
        }
    }
    corpus
}

async fn run(bot: &TestBot, corpus: &Corpus, case: &Case) -> Result<(), String> {
    let body = body_bytes(corpus, case)?;
    let before = counts(bot).await;

    let path = match case.endpoint {
        Endpoint::App => "/app",
        Endpoint::Telegram => "/telegram/webhook",
    };
    let mut headers = BTreeMap::from([(
        CONTENT_TYPE.as_str().to_owned(),
        Some("application/json".to_owned()),
    )]);
    if case.endpoint == Endpoint::Telegram {
        headers.insert(
            "x-telegram-bot-api-secret-token".into(),
            Some(WEBHOOK_SECRET.into()),
        );
    }
    for (name, value) in &case.headers {
        headers.insert(name.to_ascii_lowercase(), value.clone());
    }
    let mut request = bot.client.post(bot.url(path));
    for (name, value) in headers {
        if let Some(value) = value {
            request = request.header(name, value);
        }
    }
    request = if case.chunked {
        let chunks = futures::stream::iter([Ok::<_, std::io::Error>(body)]);
        request.body(reqwest::Body::wrap_stream(chunks))
    } else {
        request.body(body)
    };
    let response = request.send().await.map_err(|e| format!("not sent: {e}"))?;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let text = response.text().await.map_err(|e| format!("no body: {e}"))?;

    let e = &case.expect;
    if status != StatusCode::from_u16(e.status).expect("valid status") {
        return Err(format!("status {status}, expected {}: {text}", e.status));
    }
    if status.is_client_error() {
        check_error(e, is_json, &text)?;
    }

    let after = counts(bot).await;
    let changed: Vec<String> = COUNTS
        .iter()
        .filter_map(|(table, _)| {
            let delta = after[table] - before[table];
            let expected = e.creates.get(*table).copied().unwrap_or(0);
            (delta != expected).then(|| format!("{table} +{delta} (expected +{expected})"))
        })
        .collect();
    if !changed.is_empty() {
        return Err(format!("state changed: {}", changed.join(", ")));
    }
    if let Some(job) = &e.job {
        check_newest_job(bot, job).await?;
    }
    Ok(())
}

/// A JSON error whose message names the problem, and for field errors,
/// `fields` naming exactly the bad field.
fn check_error(e: &Expect, is_json: bool, text: &str) -> Result<(), String> {
    if !is_json {
        return Err(format!("the error is not JSON: {text}"));
    }
    let answer: Value = serde_json::from_str(text).map_err(|_| format!("not JSON: {text}"))?;
    let error = answer["error"].as_str().unwrap_or_default();
    if error.trim().is_empty() {
        return Err(format!("no `error` message: {answer}"));
    }
    let wanted = e.message.as_deref().unwrap_or_default();
    let fields = answer["fields"].as_object().cloned().unwrap_or_default();
    let (said, where_) = match &e.field {
        Some(field) => {
            let names: Vec<&String> = fields.keys().collect();
            if names != [field] {
                return Err(format!(
                    "fields {names:?}, expected only `{field}`: {answer}"
                ));
            }
            (
                fields[field].as_str().unwrap_or_default(),
                "the field's problem",
            )
        }
        None => (error, "the error"),
    };
    if !said.contains(wanted) {
        return Err(format!("{where_} `{said}` does not mention `{wanted}`"));
    }
    Ok(())
}

async fn check_newest_job(bot: &TestBot, expected: &ExpectedJob) -> Result<(), String> {
    let (kind, payload): (String, Value) =
        sqlx::query_as("SELECT kind, payload FROM jobs ORDER BY created_at DESC LIMIT 1")
            .fetch_one(&bot.db.pool)
            .await
            .map_err(|e| format!("no job: {e}"))?;
    if kind != expected.kind {
        return Err(format!("job kind `{kind}`, expected `{}`", expected.kind));
    }
    for (key, value) in &expected.payload {
        let value = expand(value)?;
        if payload.get(key) != Some(&value) {
            return Err(format!(
                "job payload `{key}` is {:?}, expected {value}",
                payload.get(key)
            ));
        }
    }
    Ok(())
}

async fn counts(bot: &TestBot) -> BTreeMap<&'static str, i64> {
    let mut counts = BTreeMap::new();
    for (table, sql) in COUNTS {
        counts.insert(*table, bot.count(sql).await);
    }
    counts
}

fn body_bytes(corpus: &Corpus, case: &Case) -> Result<Vec<u8>, String> {
    let spec = &case.body;
    if let Some(text) = &spec.text {
        return Ok(string_of(text)?.into_bytes());
    }
    if let Some(encoded) = &spec.base64 {
        return base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("bad base64 body: {e}"));
    }
    Ok(serde_json::to_vec(&body_json(corpus, case)?).expect("JSON serializes"))
}

fn body_json(corpus: &Corpus, case: &Case) -> Result<Value, String> {
    let spec = &case.body;
    let given = [
        spec.template.is_some(),
        spec.json.is_some(),
        spec.text.is_some(),
        spec.base64.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err("the body needs exactly one of template, json, text, base64".into());
    }
    if let Some(json) = &spec.json {
        return expand(json);
    }
    let name = spec.template.as_ref().ok_or("the body is not JSON")?;
    let mut body = corpus
        .templates
        .get(name)
        .ok_or_else(|| format!("no template `{name}`"))?
        .clone();
    if name == "app" && body["secret"] != APP_SECRET {
        return Err("the app template must carry the test bot's secret".into());
    }
    for (pointer, value) in &spec.set {
        set(&mut body, pointer, expand(value)?)?;
    }
    for pointer in &spec.remove {
        let (parent, key) = pointer.rsplit_once('/').ok_or("bad pointer")?;
        let removed = body
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .and_then(|o| o.remove(key));
        if removed.is_none() {
            return Err(format!("nothing to remove at `{pointer}`"));
        }
    }
    Ok(body)
}

/// Sets the value at a JSON pointer whose parent exists: an object key, an
/// array index, or one past the end of an array.
fn set(body: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    let (parent, key) = pointer.rsplit_once('/').ok_or("bad pointer")?;
    match body.pointer_mut(parent) {
        Some(Value::Object(object)) => {
            object.insert(key.to_owned(), value);
        }
        Some(Value::Array(items)) => match key.parse::<usize>() {
            Ok(i) if i < items.len() => items[i] = value,
            Ok(i) if i == items.len() => items.push(value),
            _ => return Err(format!("no index `{key}` at `{parent}`")),
        },
        _ => return Err(format!("no object or array at `{parent}`")),
    }
    Ok(())
}

/// Expands the data file's generators, so huge inputs stay small on disk:
/// `{"$repeat": s, "times": n}` and `{"$concat": [..]}` give strings,
/// `{"$copies": v, "times": n}` an array of `n` copies.
fn expand(value: &Value) -> Result<Value, String> {
    Ok(match value {
        Value::Object(o) if o.contains_key("$copies") => {
            let item = expand(&o["$copies"])?;
            Value::Array(vec![item; times(o)?])
        }
        Value::Object(o) if o.contains_key("$repeat") || o.contains_key("$concat") => {
            Value::String(string_of(value)?)
        }
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), expand(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Array(items) => Value::Array(items.iter().map(expand).collect::<Result<_, _>>()?),
        other => other.clone(),
    })
}

fn string_of(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Object(o) if o.contains_key("$repeat") => {
            Ok(string_of(&o["$repeat"])?.repeat(times(o)?))
        }
        Value::Object(o) if o.contains_key("$concat") => o["$concat"]
            .as_array()
            .ok_or("$concat takes an array")?
            .iter()
            .map(string_of)
            .collect(),
        other => Err(format!("not a string or string generator: {other}")),
    }
}

fn times(o: &Map<String, Value>) -> Result<usize, String> {
    o.get("times")
        .and_then(Value::as_u64)
        .map(|n| n as usize)
        .ok_or_else(|| "a generator needs `times`".to_owned())
}
