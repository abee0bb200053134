//! Recovering the `{"files":[{"path","content"}]}` manifest from an LLM's
//! answer.
//!
//! Models are asked for bare JSON but do not always comply: answers come
//! wrapped in ```json fences, after a sentence of prose, behind a reasoning
//! model's `<think>` block, or nested one level down (`{"manifest":
//! {"files": [...]}}`). [`parse_manifest`] accepts all of these and refuses
//! everything else with a [`ParseError`] that says what was wrong, so the
//! caller can report it and try again. It never panics.

use serde_json::Value;

use super::GeneratedFile;

/// Why no manifest could be read from an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the answer is empty")]
    Empty,
    #[error("the answer contains no complete JSON object")]
    NotJson,
    #[error("the answer's JSON has no `files` list")]
    NoFiles,
    #[error("the manifest's `files` list is empty")]
    EmptyFiles,
    #[error("files[{index}] {problem}")]
    BadEntry { index: usize, problem: String },
}

/// How many `{`/`[` positions are tried as the start of the JSON. A real
/// answer has its manifest within the first few; the cap keeps garbage cheap.
const MAX_STARTS: usize = 256;

/// How deep to look for a nested manifest (`{"result":{"manifest":{...}}}`).
const MAX_DEPTH: usize = 4;

/// Keys models use for a file's path and its content, in order of preference.
const PATH_KEYS: &[&str] = &["path", "filename", "file", "name"];
const CONTENT_KEYS: &[&str] = &["content", "contents", "text", "body"];

/// Reads the manifest's files, in the order the answer lists them.
///
/// Paths are trimmed and lose a leading `/`; duplicated or unsafe paths are
/// passed through, for the worker's validation.
pub fn parse_manifest(answer: &str) -> Result<Vec<GeneratedFile>, ParseError> {
    let text = answer.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    // The most specific failure wins: a manifest with a broken entry says
    // more than "no JSON here".
    let mut best = ParseError::NotJson;
    let starts = text
        .char_indices()
        .filter(|(_, c)| *c == '{' || *c == '[')
        .map(|(i, _)| i)
        .take(MAX_STARTS);
    for start in starts {
        let Some(value) = first_json_value(&text[start..]) else {
            continue;
        };
        match find_manifest(&value, 0) {
            Ok(files) => return Ok(files),
            Err(error) => {
                if rank(&error) > rank(&best) {
                    best = error;
                }
            }
        }
    }
    Err(best)
}

/// The manifest's `"name"` (the site's short name), when the answer gives
/// one. Only an object that also holds `"files"` counts, so a file entry's
/// `"name"` is never taken for the site's.
pub fn manifest_name(answer: &str) -> Option<String> {
    let text = answer.trim_start_matches('\u{feff}').trim();
    text.char_indices()
        .filter(|(_, c)| *c == '{')
        .take(MAX_STARTS)
        .filter_map(|(i, _)| first_json_value(&text[i..]))
        .find(|value| value.get("files").is_some())
        .and_then(|manifest| manifest.get("name")?.as_str().map(str::to_owned))
}

/// The JSON value at the start of `text`, ignoring whatever follows it
/// (a closing fence, a signature line).
fn first_json_value(text: &str) -> Option<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
}

fn rank(error: &ParseError) -> u8 {
    match error {
        ParseError::Empty | ParseError::NotJson => 0,
        ParseError::NoFiles => 1,
        ParseError::EmptyFiles => 2,
        ParseError::BadEntry { .. } => 3,
    }
}

fn find_manifest(value: &Value, depth: usize) -> Result<Vec<GeneratedFile>, ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError::NoFiles);
    }
    match value {
        Value::Object(map) => {
            if let Some(files) = map.get("files") {
                return read_files(files);
            }
            first_found(map.values(), depth)
        }
        // A bare list of file objects is a manifest without its wrapper.
        Value::Array(items) if items.iter().any(looks_like_entry) => read_files(value),
        Value::Array(items) => first_found(items.iter(), depth),
        // Some models put the manifest in a string: `{"manifest": "{\"files\":…}"}`.
        Value::String(s) if s.trim_start().starts_with('{') => {
            match serde_json::from_str::<Value>(s) {
                Ok(inner) => find_manifest(&inner, depth + 1),
                Err(_) => Err(ParseError::NoFiles),
            }
        }
        _ => Err(ParseError::NoFiles),
    }
}

fn first_found<'a>(
    values: impl Iterator<Item = &'a Value>,
    depth: usize,
) -> Result<Vec<GeneratedFile>, ParseError> {
    let mut best = ParseError::NoFiles;
    for value in values {
        match find_manifest(value, depth + 1) {
            Ok(files) => return Ok(files),
            Err(error) if rank(&error) > rank(&best) => best = error,
            Err(_) => {}
        }
    }
    Err(best)
}

fn looks_like_entry(value: &Value) -> bool {
    value.as_object().is_some_and(|map| {
        PATH_KEYS.iter().any(|k| map.contains_key(*k))
            && CONTENT_KEYS.iter().any(|k| map.contains_key(*k))
    })
}

fn read_files(files: &Value) -> Result<Vec<GeneratedFile>, ParseError> {
    let files = match files {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| read_entry(index, item))
            .collect::<Result<Vec<_>, _>>()?,
        // `{"files": {"index.html": "<!doctype html>…"}}`: a map from path to content.
        Value::Object(map) => map
            .iter()
            .enumerate()
            .map(|(index, (path, content))| {
                Ok(GeneratedFile {
                    path: tidy_path(path),
                    content: content_text(index, content)?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(ParseError::NoFiles),
    };
    if files.is_empty() {
        return Err(ParseError::EmptyFiles);
    }
    Ok(files)
}

fn read_entry(index: usize, item: &Value) -> Result<GeneratedFile, ParseError> {
    let bad = |problem: &str| ParseError::BadEntry {
        index,
        problem: problem.to_owned(),
    };
    let Value::Object(map) = item else {
        return Err(bad("is not an object with `path` and `content`"));
    };
    let path = PATH_KEYS
        .iter()
        .find_map(|k| map.get(*k))
        .ok_or_else(|| bad("has no `path`"))?
        .as_str()
        .ok_or_else(|| bad("has a `path` that is not a string"))?;
    let content = CONTENT_KEYS
        .iter()
        .find_map(|k| map.get(*k))
        .ok_or_else(|| bad("has no `content`"))?;
    Ok(GeneratedFile {
        path: tidy_path(path),
        content: content_text(index, content)?,
    })
}

/// Models often write site-root paths as `/index.html`; that means the same
/// file as `index.html`, so the slash is dropped here rather than the file
/// refused later. Everything else is left for the worker's path rules.
fn tidy_path(path: &str) -> String {
    path.trim().trim_start_matches('/').to_owned()
}

/// A file's text. Models sometimes give a JSON file's content as JSON
/// rather than as a string; that is written out pretty-printed.
fn content_text(index: usize, content: &Value) -> Result<String, ParseError> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Object(_) | Value::Array(_) => {
            serde_json::to_string_pretty(content).map_err(|e| ParseError::BadEntry {
                index,
                problem: format!("has content that cannot be written as JSON: {e}"),
            })
        }
        _ => Err(ParseError::BadEntry {
            index,
            problem: "has a `content` that is not a string".to_owned(),
        }),
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
