//! Properties of the parsers that read text nobody vouches for, at scale:
//! the LLM's answer (`generator::parse::parse_manifest`) and the
//! `callback_data` of a Telegram button click (`buttons::ButtonData`).
//!
//! The unit tests beside each parser hold the examples and a few quick
//! properties; these go further: answers assembled from the fragments
//! models really emit, every wrapper the parser promises to see through,
//! answers cut off mid-manifest, and button data tampered one character at
//! a time. Counts are 10,000 for the cheap properties and fewer for the
//! costlier ones; `PROPTEST_CASES` replaces them all for a longer hunt:
//!
//! ```sh
//! PROPTEST_CASES=1000000 cargo nextest run -p worker --test untrusted_output_props
//! ```

use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;
use worker::{
    buttons::{Action, ButtonData},
    generator::{GeneratedFile, parse::parse_manifest},
};

/// `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> ProptestConfig {
    ProptestConfig::with_cases(testkit::proptest_cases(default))
}

// ------------------------------------------------------------ LLM answers

/// What models wrap around, and break inside, their JSON.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\\"",
    "\\",
    "\"files\"",
    "\"path\"",
    "\"content\"",
    "\"name\"",
    "\"manifest\"",
    "\"index.html\"",
    "\"<h1>Hi</h1>\"",
    "null",
    "true",
    "1e999",
    "-0",
    "```",
    "```json",
    "\n",
    " ",
    "<think>",
    "</think>",
    "Here is the site:",
    "\u{feff}",
    "é",
    "\u{1f600}",
    "{\"files\":[",
    "{\"path\":\"a.html\",\"content\":\"x\"}",
    "]}",
    "{\"files\":{\"a.css\":",
    "\"{\\\"files\\\":[",
    "[{\"filename\":\"b.js\",\"text\":1}]",
];

fn answer_like() -> impl Strategy<Value = String> {
    prop::collection::vec(0..FRAGMENTS.len(), 0..48)
        .prop_map(|picks| picks.into_iter().map(|i| FRAGMENTS[i]).collect())
}

/// Files with distinct paths (sometimes written with a leading `/`) and
/// contents that are text with JSON-ish characters, or JSON for `.json`
/// files.
fn files() -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "index.html",
                "style.css",
                "app.js",
                "data.json",
                "a/b.md",
            ]),
            any::<bool>(),
            "[a-zA-Z0-9 <>/{}\\[\\]\"'`:,.\n\\\\-]{0,40}",
            prop::option::of(prop::collection::btree_map("[a-e]", 0i64..100, 0..3)),
        ),
        1..5,
    )
    .prop_map(|entries| {
        entries
            .into_iter()
            .enumerate()
            .map(|(i, (name, slash, text, object))| {
                let path = format!("{}p{i}-{name}", if slash { "/" } else { "" });
                let content = match object {
                    Some(map) if name.ends_with(".json") => json!(map),
                    // Never starting with `{`: a content that is itself a
                    // manifest would rightly be read as one.
                    _ => Value::String(format!("x{text}")),
                };
                (path, content)
            })
            .collect()
    })
}

/// What the parser must return for `files`.
fn expected(files: &[(String, Value)]) -> Vec<GeneratedFile> {
    files
        .iter()
        .map(|(path, content)| GeneratedFile {
            path: path.trim_start_matches('/').to_owned(),
            content: match content {
                Value::String(s) => s.clone(),
                other => serde_json::to_string_pretty(other).expect("JSON serializes"),
            },
        })
        .collect()
}

/// The manifest in each shape models produce it in.
fn shaped(files: &[(String, Value)], shape: usize) -> Value {
    let entries = |path_key: &str, content_key: &str| -> Value {
        files
            .iter()
            .map(|(p, c)| json!({ path_key: p, content_key: c }))
            .collect()
    };
    match shape {
        0 => json!({ "files": entries("path", "content") }),
        1 => json!({ "files": entries("filename", "contents") }),
        2 => entries("name", "body"),
        3 => json!({ "result": { "manifest": { "files": entries("file", "text") } } }),
        4 => json!({ "manifest": json!({ "files": entries("path", "content") }).to_string() }),
        _ => json!({ "files": files.iter().cloned().collect::<serde_json::Map<_, _>>() }),
    }
}
const SHAPES: usize = 6;

/// Text before the manifest: prose with braces, a reasoning block, and
/// JSON that is not a manifest (which the parser must look past).
fn preamble() -> impl Strategy<Value = String> {
    (
        "[A-Za-z .,:!?(){}\n-]{0,60}",
        any::<bool>(),
        prop::sample::subsequence(
            vec![
                r#"{"note": "plan"}"#,
                "[1, 2, 3]",
                r#"{"files": []}"#,
                r#"{"files": "below"}"#,
                "{}",
            ],
            0..3,
        ),
    )
        .prop_map(|(prose, think, decoys)| {
            let decoys = decoys.join("\n");
            if think {
                format!("<think>{prose} {decoys}</think>\n")
            } else {
                format!("{prose}\n{decoys}\n")
            }
        })
}

proptest! {
    #![proptest_config(cases(10_000))]

    /// Never panics on answers assembled from what models emit, however
    /// broken; what it accepts has files, and what it refuses says why.
    #[test]
    fn the_manifest_parser_never_panics_on_broken_answers(answer in answer_like()) {
        match parse_manifest(&answer) {
            Ok(files) => prop_assert!(!files.is_empty(), "an empty manifest accepted"),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

proptest! {
    #![proptest_config(cases(3_000))]

    /// Every wrapper the parser promises to see through (fences, prose, a
    /// reasoning block, decoy JSON, nesting, a manifest in a string, key
    /// aliases, the path-to-content map) gives back exactly the files, in
    /// order, with a leading `/` dropped from their paths.
    #[test]
    fn an_embedded_manifest_is_recovered_exactly(
        files in files(),
        shape in 0..SHAPES,
        before in preamble(),
        fence in prop::sample::select(vec!["", "```", "```json\n"]),
        after in "[A-Za-z .,:!?(){}\n-]{0,60}",
    ) {
        let manifest = shaped(&files, shape).to_string();
        let closing = if fence.is_empty() { "" } else { "\n```" };
        let answer = format!("{before}{fence}{manifest}{closing}\n{after}");
        let mut want = expected(&files);
        let mut got = parse_manifest(&answer).map_err(|e| TestCaseError::fail(format!("{e}: {answer}")))?;
        if shape == SHAPES - 1 {
            // A map has no order of its own to keep.
            want.sort_by(|a, b| a.path.cmp(&b.path));
            got.sort_by(|a, b| a.path.cmp(&b.path));
        }
        prop_assert_eq!(got, want);
    }

    /// An answer cut off anywhere (the model ran out of tokens) yields
    /// either an error or every file; never a silently shorter site.
    #[test]
    fn a_truncated_answer_never_yields_part_of_the_site(
        files in files(),
        shape in 0..SHAPES,
        before in preamble(),
        cut in any::<prop::sample::Index>(),
    ) {
        let answer = format!("{before}{}", shaped(&files, shape));
        let boundaries: Vec<usize> = (0..answer.len()).filter(|i| answer.is_char_boundary(*i)).collect();
        let truncated = &answer[..*cut.get(&boundaries)];
        if let Ok(mut got) = parse_manifest(truncated) {
            let mut want = expected(&files);
            want.sort_by(|a, b| a.path.cmp(&b.path));
            got.sort_by(|a, b| a.path.cmp(&b.path));
            prop_assert_eq!(got, want, "from {:?}", truncated);
        }
    }
}

// ------------------------------------------------------------ button data

/// The data the bot itself writes on a button, by the real encoder.
fn button_data(action: usize, id: u128) -> String {
    ButtonData {
        action: Action::ALL[action],
        version: Uuid::from_u128(id),
    }
    .encode()
}

/// One edit of `data`: insert, delete or replace the character at `at`.
fn tamper(data: &str, edit: usize, at: prop::sample::Index, with: char) -> String {
    let mut chars: Vec<char> = data.chars().collect();
    let i = at.index(chars.len());
    match edit {
        0 => chars.insert(i, with),
        1 => {
            chars.remove(i);
        }
        _ => chars[i] = with,
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(cases(10_000))]

    /// Never panics, whatever a client puts in `callback_data`.
    #[test]
    fn the_button_parser_never_panics(
        pieces in prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    "approve", "revise", "reject", "APPROVE", ":", "urn:uuid:", "{", "}", "-",
                    "0199a5b0", "7c1e", "ffffffffffff", "g", "é", "\u{0}",
                ])
                .prop_map(str::to_owned),
                any::<char>().prop_map(String::from),
            ],
            0..12,
        ),
    ) {
        // Whatever it reads, it could have written: the same data encodes
        // to a form that reads back the same, within Telegram's limit.
        if let Some(read) = ButtonData::parse(&pieces.concat()) {
            let written = read.encode();
            prop_assert!(written.len() <= 64);
            prop_assert_eq!(ButtonData::parse(&written), Some(read));
        }
    }

    /// The data the bot puts on its buttons reads back as the same action
    /// and version, and fits Telegram's 64-byte limit.
    #[test]
    fn button_data_round_trips_within_telegrams_limit(action in 0..4usize, id in any::<u128>()) {
        let data = button_data(action, id);
        prop_assert!(data.len() <= 64);
        prop_assert_eq!(
            ButtonData::parse(&data),
            Some(ButtonData { action: Action::ALL[action], version: Uuid::from_u128(id) })
        );
    }

    /// Data changed by one character either means nothing or names exactly
    /// what it now says (a hex digit's case is the only harmless change):
    /// a tampered button can never act on a version it does not spell out.
    #[test]
    fn tampered_button_data_is_refused_or_says_what_it_means(
        action in 0..4usize,
        id in any::<u128>(),
        edit in 0..3usize,
        at in any::<prop::sample::Index>(),
        with in prop_oneof![any::<char>(), prop::sample::select(vec!['0', 'f', 'F', '-', ':', '{', 'x'])],
    ) {
        let tampered = tamper(&button_data(action, id), edit, at, with);
        if let Some(parsed) = ButtonData::parse(&tampered) {
            prop_assert_eq!(
                tampered.to_ascii_lowercase(),
                format!("{}:{}", parsed.action.as_str(), parsed.version)
            );
        }
    }
}
