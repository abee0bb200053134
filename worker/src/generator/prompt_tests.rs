use std::sync::Arc;

use pagesmith::domain::SitePath;

use super::*;

fn attachment(name: &str, media_type: &str, data: &[u8]) -> Attachment {
    Attachment {
        name: SitePath::parse(name).unwrap(),
        media_type: media_type.to_owned(),
        data: Arc::new(data.to_vec()),
    }
}

fn file(path: &str, content: &str) -> GeneratedFile {
    GeneratedFile {
        path: path.to_owned(),
        content: content.to_owned(),
    }
}

fn request() -> SiteRequest {
    SiteRequest {
        brief: "Publish a sales summary of data.csv.".to_owned(),
        checks: vec![
            "document.querySelector('#total-sales').textContent == '1234.5'".to_owned(),
            "Repo has MIT license".to_owned(),
        ],
        attachments: vec![
            attachment("data.csv", "text/csv", b"region,sales\nnorth,1000\n"),
            attachment("logo.png", "image/png", &[0x89, b'P', b'N', b'G', 0, 1, 2]),
        ],
        round: 1,
        owner: "octo-cat".to_owned(),
        ..SiteRequest::default()
    }
}

#[test]
fn the_user_message_carries_the_brief_every_check_and_small_text_attachments() {
    let prompt = generate(&request(), 2031);
    assert!(prompt.user.contains("Publish a sales summary of data.csv."));
    assert!(
        prompt
            .user
            .contains("1. document.querySelector('#total-sales').textContent == '1234.5'")
    );
    assert!(prompt.user.contains("2. Repo has MIT license"));
    assert!(prompt.user.contains("region,sales\nnorth,1000"));
    assert!(prompt.user.contains("`data.csv` (text/csv, 24 bytes)"));
    assert!(prompt.user.contains("octo-cat, year 2031"));
    assert!(!prompt.user.contains("This is a revision"));
}

#[test]
fn binary_and_large_attachments_are_described_not_quoted() {
    let mut request = request();
    let big = "a,b\n".repeat(MAX_INLINE_ATTACHMENT);
    request
        .attachments
        .push(attachment("big.csv", "text/csv", big.as_bytes()));
    let prompt = generate(&request, 2031);
    assert!(prompt.user.contains("`logo.png` (image/png, 7 bytes)"));
    assert!(!prompt.user.contains("Content of attachment `logo.png`"));
    assert!(
        prompt
            .user
            .contains(&format!("`big.csv` (text/csv, {} bytes)", big.len()))
    );
    assert!(!prompt.user.contains("Content of attachment `big.csv`"));
}

#[test]
fn attachment_text_is_quoted_up_to_a_total_budget() {
    let mut request = request();
    let chunk = "x".repeat(MAX_INLINE_ATTACHMENT - 100);
    let count = MAX_INLINE_ATTACHMENTS_TOTAL / chunk.len() + 2;
    request.attachments = (0..count)
        .map(|i| attachment(&format!("part{i}.txt"), "text/plain", chunk.as_bytes()))
        .collect();
    let prompt = generate(&request, 2031);
    let quoted = prompt.user.matches("Content of attachment").count();
    assert_eq!(quoted, MAX_INLINE_ATTACHMENTS_TOTAL / chunk.len());
    assert!(
        prompt
            .user
            .contains(&format!("`part{}.txt` (text/plain", count - 1))
    );
}

#[test]
fn the_system_message_states_the_rules_and_the_answer_shape() {
    let prompt = generate(&request(), 2031);
    for rule in [
        "relative links",
        "Do not rewrite them",
        "exactly as the brief",
        "stays inline in `index.html`",
        "Summary, Setup, Usage, Code explanation, License",
        "MIT License",
        "Always write an `index.html`",
        "ONLY a JSON object",
    ] {
        assert!(prompt.system.contains(rule), "missing rule: {rule}");
    }
}

#[test]
fn a_revision_quotes_the_current_files_and_the_change() {
    let mut request = request();
    request.round = 2;
    request.previous_files = vec![
        file("index.html", "<h1 id=\"title\">Sales</h1>"),
        file("data.csv", "region,sales\n"),
    ];
    request.change_request = Some("Add a bar chart of sales by region.".to_owned());
    let prompt = generate(&request, 2031);
    assert!(prompt.user.contains("This is a revision"));
    assert!(prompt.user.contains("File `index.html`"));
    assert!(prompt.user.contains("<h1 id=\"title\">Sales</h1>"));
    assert!(prompt.user.contains("Add a bar chart of sales by region."));
    // The attachment is not repeated as a current file.
    assert!(!prompt.user.contains("File `data.csv`"));
}

#[test]
fn a_change_that_is_the_brief_is_quoted_once() {
    let mut request = request();
    request.round = 2;
    request.change_request = Some(request.brief.clone());
    let prompt = generate(&request, 2031);
    assert_eq!(
        prompt
            .user
            .matches("Publish a sales summary of data.csv.")
            .count(),
        1
    );
    assert!(
        prompt
            .user
            .contains("The brief above is the change asked for.")
    );
}

#[test]
fn huge_current_files_are_truncated_at_a_character_boundary() {
    let mut request = request();
    let huge = "é".repeat(MAX_INLINE_FILE);
    request.previous_files = vec![file("index.html", &huge), file("app.js", "let x = 1;")];
    for i in 0..10 {
        request
            .previous_files
            .push(file(&format!("page{i}.html"), &"x".repeat(MAX_INLINE_FILE)));
    }
    let prompt = generate(&request, 2031);
    assert!(prompt.user.contains("more bytes not shown"));
    assert!(prompt.user.contains("let x = 1;"));
    assert!(prompt.user.contains("Also present, not shown"));
    assert!(prompt.user.contains("`page9.html`"));
    assert!(prompt.user.len() < MAX_INLINE_FILES_TOTAL + 10 * 1024);
}

#[test]
fn a_repair_prompt_numbers_the_problems_and_quotes_the_files() {
    let problems = vec![
        "index.html links to missing file `app.js`".to_owned(),
        "no element with id `total-sales`".to_owned(),
    ];
    let prompt = repair(
        &request(),
        &[file("index.html", "<p>hello</p>")],
        &problems,
        2031,
    );
    assert!(
        prompt
            .user
            .contains("1. index.html links to missing file `app.js`")
    );
    assert!(prompt.user.contains("2. no element with id `total-sales`"));
    assert!(prompt.user.contains("<p>hello</p>"));
    assert!(prompt.user.contains("Publish a sales summary of data.csv."));
}

#[test]
fn truncate_prefers_a_line_end_and_respects_char_boundaries() {
    assert_eq!(truncate("short", 10), "short");
    assert_eq!(truncate("line one\nline two", 12), "line one");
    assert_eq!(truncate("ééé", 3), "é");
}
