//! Properties of the built-in generator over arbitrary requests: it never
//! panics, every path passes the worker's rules, and request text never
//! becomes markup.

use std::sync::Arc;

use pagesmith::domain::{SitePath, file_type};
use proptest::prelude::*;
use worker::generator::{Attachment, Generated, Generator, SiteRequest, builtin::BuiltinGenerator};

/// Every tag the generator itself writes. A tag outside this list can only
/// come from request text that escaped escaping.
const OUR_TAGS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "link", "script", "body", "a", "header", "div",
    "nav", "ul", "li", "main", "section", "h1", "h2", "h3", "p", "article", "code", "footer",
    "span", "form", "label", "input", "button", "textarea", "select", "option", "canvas", "output",
    "img", "figure", "table", "caption", "thead", "tbody", "tr", "th", "td", "pre", "audio",
    "video",
];

/// Every attribute the generator writes (besides `data-*`).
const OUR_ATTRIBUTES: &[&str] = &[
    "class",
    "id",
    "href",
    "src",
    "rel",
    "lang",
    "charset",
    "name",
    "content",
    "defer",
    "crossorigin",
    "aria-label",
    "role",
    "type",
    "method",
    "for",
    "placeholder",
    "autocomplete",
    "rows",
    "width",
    "height",
    "alt",
    "loading",
    "decoding",
    "download",
    "controls",
    "preload",
    "scope",
    "value",
];

/// The attribute names of each tag, or an error if one is not `name` or
/// `name="value"` (an unquoted or broken value means text escaped).
fn attributes(html: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for (i, _) in html.match_indices('<') {
        let tag = &html[i + 1..];
        let tag = &tag[..tag.find('>').ok_or("unclosed tag")?];
        if tag.starts_with(['/', '!']) {
            continue;
        }
        let mut rest = tag.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(rest.len());
            if end == 0 {
                return Err(format!("bad attribute in <{tag}>"));
            }
            names.push(rest[..end].to_owned());
            rest = &rest[end..];
            if let Some(value) = rest.strip_prefix("=\"") {
                let close = value
                    .find('"')
                    .ok_or_else(|| format!("unclosed value in <{tag}>"))?;
                rest = &value[close + 1..];
            } else if rest.starts_with('=') {
                return Err(format!("unquoted value in <{tag}>"));
            }
        }
    }
    Ok(names)
}

fn generate(request: &SiteRequest) -> Generated {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(BuiltinGenerator::with_year(2031).generate(request))
        .unwrap()
}

fn tags(html: &str) -> Vec<String> {
    html.match_indices('<')
        .filter_map(|(i, _)| {
            let rest = html[i + 1..].trim_start_matches('/');
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '!'))?;
            (end > 0).then(|| rest[..end].to_ascii_lowercase())
        })
        .collect()
}

/// Text with plenty of markup characters, quotes and Markdown.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[<>\"'&`#=/a-zA-Z0-9 .:\n*-]{0,200}",
        Just("<script>alert(1)</script>\"><img src=x onerror=alert(1)>".to_owned()),
    ]
}

fn attachment_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 &'_-]{1,12}\\.(png|csv|json|md|txt|pdf)"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_request_gives_valid_paths_and_no_injected_markup(
        brief in hostile_text(),
        checks in prop::collection::vec(hostile_text(), 0..4),
        change in prop::option::of(hostile_text()),
        owner in hostile_text(),
        attachments in prop::collection::vec((attachment_name(), prop::collection::vec(any::<u8>(), 0..64)), 0..3),
    ) {
        let attachments: Vec<Attachment> = attachments
            .into_iter()
            .filter_map(|(name, data)| {
                Some(Attachment {
                    name: SitePath::parse(name.trim()).ok()?,
                    media_type: "application/octet-stream".to_owned(),
                    data: Arc::new(data),
                })
            })
            .collect();
        let request = SiteRequest {
            brief,
            checks,
            attachments,
            round: if change.is_some() { 2 } else { 1 },
            change_request: change,
            owner,
            ..SiteRequest::default()
        };
        let generated = generate(&request);
        for file in &generated.files {
            let path = SitePath::parse(&file.path);
            prop_assert!(path.is_ok(), "{} is refused", file.path);
            prop_assert!(file_type::media_type(&path.unwrap()).is_some(), "{} has a refused type", file.path);
            if file.path.ends_with(".html") {
                for tag in tags(&file.content) {
                    prop_assert!(OUR_TAGS.contains(&tag.as_str()), "{} has a foreign tag <{}>", file.path, tag);
                }
                let names = attributes(&file.content);
                prop_assert!(names.is_ok(), "{}: {:?}", file.path, names);
                for name in names.unwrap() {
                    let ours = OUR_ATTRIBUTES.contains(&name.as_str()) || name.starts_with("data-");
                    prop_assert!(ours, "{} has a foreign attribute {}", file.path, name);
                }
            }
        }
        let index = generated.files.iter().find(|f| f.path == "index.html");
        prop_assert!(index.is_some());
    }
}
