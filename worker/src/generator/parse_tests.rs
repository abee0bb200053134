use proptest::prelude::*;

use super::*;

fn file(path: &str, content: &str) -> GeneratedFile {
    GeneratedFile {
        path: path.to_owned(),
        content: content.to_owned(),
    }
}

const BARE: &str = r#"{"files":[{"path":"index.html","content":"<h1>Hi</h1>"},{"path":"style.css","content":"h1 { color: red }"}]}"#;

fn expected() -> Vec<GeneratedFile> {
    vec![
        file("index.html", "<h1>Hi</h1>"),
        file("style.css", "h1 { color: red }"),
    ]
}

#[test]
fn a_bare_manifest_is_read_in_order() {
    assert_eq!(parse_manifest(BARE), Ok(expected()));
}

#[test]
fn a_fenced_manifest_after_prose_is_recovered() {
    let answer = format!(
        "Sure! Here is your site {{as requested}}:\n\n```json\n{BARE}\n```\n\nLet me know if you need changes."
    );
    assert_eq!(parse_manifest(&answer), Ok(expected()));
}

#[test]
fn a_reasoning_block_before_the_manifest_is_skipped() {
    let answer = format!("<think>The user wants {{a page}}; [1] use h1.</think>\n{BARE}");
    assert_eq!(parse_manifest(&answer), Ok(expected()));
}

#[test]
fn a_nested_manifest_is_found() {
    let answer = format!(r#"{{"manifest": {BARE}}}"#);
    assert_eq!(parse_manifest(&answer), Ok(expected()));
    let deeper = format!(r#"{{"result": {{"site": {{"manifest": {BARE}}}}}}}"#);
    assert_eq!(parse_manifest(&deeper), Ok(expected()));
}

#[test]
fn a_manifest_inside_a_json_string_is_found() {
    let answer = serde_json::json!({ "manifest": BARE }).to_string();
    assert_eq!(parse_manifest(&answer), Ok(expected()));
}

#[test]
fn a_bare_list_of_files_and_a_path_to_content_map_are_accepted() {
    let list = r#"[{"path":"index.html","content":"<h1>Hi</h1>"},{"path":"style.css","content":"h1 { color: red }"}]"#;
    assert_eq!(parse_manifest(list), Ok(expected()));
    let map = r#"{"files":{"index.html":"<h1>Hi</h1>","style.css":"h1 { color: red }"}}"#;
    assert_eq!(parse_manifest(map), Ok(expected()));
}

#[test]
fn alias_keys_and_structured_json_content_are_accepted() {
    let answer = r#"{"files":[{"filename":"data.json","contents":{"total":3}}]}"#;
    assert_eq!(
        parse_manifest(answer),
        Ok(vec![file("data.json", "{\n  \"total\": 3\n}")])
    );
}

#[test]
fn root_relative_paths_lose_their_slash_and_others_pass_through() {
    let answer =
        r#"{"files":[{"path":" /index.html ","content":"a"},{"path":"../x.js","content":"b"}]}"#;
    assert_eq!(
        parse_manifest(answer),
        Ok(vec![file("index.html", "a"), file("../x.js", "b")])
    );
}

#[test]
fn answers_without_a_manifest_say_what_is_missing() {
    assert_eq!(parse_manifest("  \n"), Err(ParseError::Empty));
    assert_eq!(
        parse_manifest("I cannot help with that."),
        Err(ParseError::NotJson)
    );
    assert_eq!(
        parse_manifest(r#"{"pages": ["index.html"]}"#),
        Err(ParseError::NoFiles)
    );
    assert_eq!(
        parse_manifest(r#"{"files": []}"#),
        Err(ParseError::EmptyFiles)
    );
}

#[test]
fn a_truncated_manifest_is_not_json() {
    let cut = &BARE[..BARE.len() / 2];
    assert_eq!(parse_manifest(cut), Err(ParseError::NotJson));
}

#[test]
fn a_broken_entry_is_named_by_its_index() {
    let answer = r#"{"files":[{"path":"index.html","content":"x"},{"content":"y"}]}"#;
    assert_eq!(
        parse_manifest(answer),
        Err(ParseError::BadEntry {
            index: 1,
            problem: "has no `path`".to_owned()
        })
    );
    let answer = r#"{"files":[{"path":"index.html","content":42}]}"#;
    let error = parse_manifest(answer).unwrap_err();
    assert_eq!(
        error.to_string(),
        "files[0] has a `content` that is not a string"
    );
}

fn files_strategy() -> impl Strategy<Value = Vec<GeneratedFile>> {
    prop::collection::vec(
        ("[a-z]{1,8}\\.(html|css|js|json|md)", any::<String>())
            .prop_map(|(path, content)| GeneratedFile { path, content }),
        1..5,
    )
}

proptest! {
    #[test]
    fn the_parser_never_panics(answer in any::<String>()) {
        let _ = parse_manifest(&answer);
    }

    #[test]
    fn the_parser_never_panics_on_json_like_noise(answer in r#"[\[\]{}":, a-z0-9\\`\n]{0,200}"#) {
        let _ = parse_manifest(&answer);
    }

    #[test]
    fn a_manifest_in_random_prose_and_fences_is_recovered(
        files in files_strategy(),
        before in "[A-Za-z .,:!?{}()\n-]{0,80}",
        after in "[A-Za-z .,:!?{}()\n-]{0,80}",
        fence in prop::sample::select(vec!["", "```", "```json", "```JSON"]),
    ) {
        let manifest = serde_json::json!({ "files": files }).to_string();
        let closing = if fence.is_empty() { "" } else { "```" };
        let answer = format!("{before}\n{fence}\n{manifest}\n{closing}\n{after}");
        prop_assert_eq!(parse_manifest(&answer), Ok(files));
    }
}
