use std::{cell::RefCell, rc::Rc};

use lol_html::{RewriteStrSettings, element, rewrite_str};
use url::Url;

use super::safe_html;

/// Elements that run code, load another document, or change how the page
/// resolves URLs or refreshes.
const FORBIDDEN_ELEMENTS: &[&str] = &[
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "noscript",
    "template", "math",
];

/// Where the page being checked is, for resolving relative URLs.
static PAGE_URL: std::sync::LazyLock<Url> =
    std::sync::LazyLock::new(|| Url::parse("https://preview.invalid/s/token/").expect("a URL"));

/// Checks the safe view's promise on `out`, reading it with lol_html (a
/// second, independent tokenizer): no forbidden element, no `on*`
/// attribute, no script or document URL, no `http-equiv`, and no spelling
/// of a forbidden tag anywhere in the text.
pub(super) fn script_free(out: &str) -> Result<(), String> {
    let lower = out.to_ascii_lowercase();
    for tag in FORBIDDEN_ELEMENTS {
        if lower.contains(&format!("<{tag}")) {
            return Err(format!("`<{tag}` appears in the output"));
        }
    }
    let problems = Rc::new(RefCell::new(Vec::new()));
    let handlers = vec![element!("*", |el| {
        let tag = el.tag_name();
        let mut found = problems.borrow_mut();
        if FORBIDDEN_ELEMENTS.contains(&tag.as_str()) {
            found.push(format!("<{tag}> element"));
        }
        for attr in el.attributes() {
            let name = attr.name();
            let value = match unescape(&attr.value()) {
                Ok(v) => v,
                Err(e) => {
                    found.push(format!("{tag}[{name}]: {e}"));
                    continue;
                }
            };
            // Where the value would lead as a URL, by the WHATWG URL parser
            // (the `url` crate), as a browser resolves it: independent of
            // the sanitizer's own normalization, which it must not copy. A
            // srcset is a list of URLs, each followed by its size.
            let urls: Vec<&str> = match name.as_str() {
                "srcset" => value
                    .split(',')
                    .map(|c| c.split_whitespace().next().unwrap_or(""))
                    .collect(),
                _ => vec![value.as_str()],
            };
            let schemes: Vec<(String, String)> = urls
                .iter()
                .filter_map(|url| PAGE_URL.join(url).ok())
                .map(|u| (u.scheme().to_owned(), u.path().to_ascii_lowercase()))
                .collect();
            let media_src = name == "src"
                && ["img", "source", "video", "audio"].contains(&tag.as_str())
                && schemes.iter().all(|(scheme, path)| {
                    scheme == "data"
                        && ["image/", "audio/", "video/"]
                            .iter()
                            .any(|p| path.starts_with(p))
                });
            let has = |wanted: &[&str]| schemes.iter().any(|(s, _)| wanted.contains(&s.as_str()));
            let v: String = value
                .chars()
                .filter(|c| !c.is_whitespace())
                .flat_map(char::to_lowercase)
                .collect();
            if name.starts_with("on") {
                found.push(format!("{tag}[{name}] handler"));
            } else if name == "http-equiv" {
                found.push(format!("{tag}[http-equiv]"));
            } else if has(&["javascript", "vbscript"]) {
                found.push(format!("{tag}[{name}] script URL {value:?}"));
            } else if has(&["data"]) && !media_src {
                found.push(format!("{tag}[{name}] data URL {value:?}"));
            } else if name == "style" && (v.contains("javascript:") || v.contains("expression(")) {
                found.push(format!("{tag}[style] runs code: {value:?}"));
            }
        }
        Ok(())
    })];
    let settings = handlers.into_iter().fold(
        RewriteStrSettings::new(),
        RewriteStrSettings::append_element_content_handler,
    );
    rewrite_str(out, settings).map_err(|e| format!("output does not tokenize: {e}"))?;
    let found = problems.borrow();
    match found.is_empty() {
        true => Ok(()),
        false => Err(found.join("; ")),
    }
}

/// Resolves the only references the sanitizer writes; any other `&...;`
/// would be a way to spell a URL the checks above cannot see.
fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (text, len) = [
            ("&amp;", "&"),
            ("&quot;", "\""),
            ("&lt;", "<"),
            ("&gt;", ">"),
            ("&nbsp;", "\u{a0}"),
        ]
        .iter()
        .find(|(entity, _)| tail.starts_with(entity))
        .map(|(entity, text)| (*text, entity.len()))
        .ok_or_else(|| format!("unexpected reference in {raw:?}"))?;
        out.push_str(text);
        rest = &tail[len..];
    }
    out.push_str(rest);
    Ok(out)
}

#[track_caller]
pub(super) fn assert_script_free(input: &str) -> String {
    let out = safe_html(input);
    if let Err(problem) = script_free(&out) {
        panic!("{problem}\n input: {input:?}\noutput: {out}");
    }
    out
}

const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en" dir="ltr">
<head>
  <meta charset="UTF-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="description" content="Sales &amp; stock">
  <meta http-equiv="refresh" content="0;url=https://evil.example/">
  <base href="https://evil.example/">
  <title>Tom &amp; Jerry</title>
  <link href="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/css/bootstrap.min.css" rel="stylesheet" integrity="sha384-abc" crossorigin="anonymous">
  <link rel="stylesheet" href="css/site.css">
  <link rel="prefetch" href="next.html">
  <style>body { color: #333 } .card > h2 { margin: 0 }</style>
  <script src="https://cdn.jsdelivr.net/npm/marked/marked.min.js"></script>
</head>
<body class="dark" id="top" style="margin: 0" onload="steal()">
  <nav class="navbar"><a href="about.html">About</a> <a href="#top">Top</a></nav>
  <main id="app" class="container" style="padding: 1rem" data-page="home" aria-label="Main">
    <h1 class="display-4">Hello</h1>
    <img src="logo.png" alt="Logo" width="64" onerror="alert(1)">
    <form action="/search"><input type="text" name="q" placeholder="Search"><button type="submit">Go</button></form>
    <svg viewBox="0 0 24 24" width="24"><path d="M0 0h24v24H0z" fill="none"></path></svg>
  </main>
  <script>document.getElementById('app').textContent = 'rendered';</script>
</body>
</html>"##;

#[test]
fn keeps_the_document_structure_classes_ids_and_styles() {
    let out = assert_script_free(PAGE);
    for kept in [
        "<!DOCTYPE html>\n<html lang=\"en\" dir=\"ltr\">\n<head>\n<meta charset=\"utf-8\">",
        r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#,
        r#"<meta name="description" content="Sales &amp; stock">"#,
        "<title>Tom &amp; Jerry</title>",
        r#"<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/css/bootstrap.min.css" integrity="sha384-abc" crossorigin="anonymous">"#,
        r#"<link rel="stylesheet" href="css/site.css">"#,
        "<style>body { color: #333 } .card > h2 { margin: 0 }</style>",
        "</head>\n<body class=\"dark\" id=\"top\" style=\"margin: 0\">",
        r#"<nav class="navbar"><a href="about.html" rel="noopener noreferrer">About</a>"#,
        r#"<main id="app" class="container" style="padding: 1rem" data-page="home" aria-label="Main">"#,
        r#"<h1 class="display-4">Hello</h1>"#,
        r#"<img src="logo.png" alt="Logo" width="64">"#,
        r#"<form action="/search"><input type="text" name="q" placeholder="Search"><button type="submit">Go</button></form>"#,
        r#"<svg viewBox="0 0 24 24" width="24"><path d="M0 0h24v24H0z" fill="none"></path></svg>"#,
    ] {
        assert!(out.contains(kept), "missing {kept:?} in\n{out}");
    }
    for removed in [
        "<script",
        "onload",
        "onerror",
        "refresh",
        "evil.example",
        "prefetch",
        "marked",
    ] {
        assert!(!out.contains(removed), "{removed:?} survived in\n{out}");
    }
    assert_eq!(out.matches("<body").count(), 1, "{out}");
    assert!(out.trim_end().ends_with("</body>\n</html>"), "{out}");
}

#[test]
fn css_cannot_spell_a_tag() {
    let out = assert_script_free(
        r#"<style>p::after { content: "</style><script>alert(1)</script>" }</style><p>x</p>"#,
    );
    // lol_html and browsers both end the style at the first `</style`; the
    // script after it is body markup, which the body sanitizer drops.
    assert!(
        out.contains("<style>p::after { content: \"</style>\n</head>"),
        "{out}"
    );
    let out = assert_script_free(
        r#"<style>p::after { content: "<img src=x onerror=alert(1)>" }</style>"#,
    );
    assert!(
        out.contains(r#"content: "\3c img src=x onerror=alert(1)>""#),
        "{out}"
    );
}

#[test]
fn media_data_urls_stay_and_document_data_urls_go() {
    let out = assert_script_free(
        r#"<img src="data:image/png;base64,iVBORw0KGgo="><a href="data:text/html,<script>alert(1)</script>">x</a><img src="data:text/html;base64,PHNjcmlwdD4=">"#,
    );
    assert!(
        out.contains(r#"<img src="data:image/png;base64,iVBORw0KGgo=">"#),
        "{out}"
    );
    assert!(!out.contains("data:text"), "{out}");
}

#[test]
fn a_page_without_head_or_body_still_gets_both() {
    let out = assert_script_free("<h1>Hi</h1><p onclick=x>there</p>");
    assert!(out.starts_with("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n</head>\n<body>\n<h1>Hi</h1><p>there</p>"), "{out}");
    assert_eq!(
        safe_html(""),
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n</head>\n<body>\n\n</body>\n</html>\n"
    );
}

#[test]
fn the_checker_catches_what_it_looks_for() {
    // The invariant must be able to fail, or the tests above prove nothing.
    for bad in [
        "<script>x</script>",
        "<p onclick=\"x\">",
        "<a href=\"javascript:x\">",
        "<a href=\" JaVa&#x53;cript:x\">",
        "<a href=\"data:text/html,x\">",
        "<meta http-equiv=\"refresh\">",
        "<div style=\"x:url(javascript:y)\">",
        "<svg><script>",
        "<a href=\"java\tscript:x\">",
        "<img srcset=\"x.png 1x, javascript:y 2x\">",
        "<img src=\"data:text/html,x\">",
    ] {
        assert!(script_free(bad).is_err(), "{bad}");
    }
}
