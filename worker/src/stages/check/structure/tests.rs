use std::sync::Arc;

use super::*;

fn file(path: &str, content: &str) -> BundleFile {
    BundleFile {
        path: SitePath::parse(path).unwrap(),
        bytes: content.as_bytes().to_vec(),
    }
}

const README: &str = "# S\n## Summary\n## Setup\n## Usage\n## Code explanation\n## License\n";
const PAGE: &str = "<!DOCTYPE html><html><head><title>t</title><link rel=stylesheet href=style.css></head>\
<body><img src=\"img/logo.png\"><a href=\"#top\">top</a><a href=\"https://x.io\">x</a>\
<script src=\"./app.js\"></script></body></html>";

fn good_site() -> Vec<BundleFile> {
    vec![
        file("index.html", PAGE),
        file("style.css", "body{}"),
        file("app.js", "1"),
        file("img/logo.png", "png"),
        file("data.json", "{\"a\": 1}"),
        file(
            "icon.svg",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>",
        ),
        file("LICENSE", &crate::manifest::mit_license("Ada")),
        file("README.md", README),
    ]
}

fn failed(results: &[CheckResult]) -> Vec<&str> {
    results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.name.as_str())
        .collect()
}

#[test]
fn a_complete_site_passes_every_check() {
    let results = run(
        &good_site(),
        "A site with style.css and data.json",
        &[],
        &[],
    );
    assert_eq!(results.len(), 7);
    assert!(failed(&results).is_empty(), "{results:#?}");
}

#[test]
fn missing_requested_and_linked_files_are_named() {
    let mut site = good_site();
    site.retain(|f| f.path.as_str() != "img/logo.png");
    let results = run(
        &site,
        "Use script.js and load marked from https://cdn.jsdelivr.net/npm/marked/marked.min.js",
        &["Page has about.html".to_owned()],
        &[],
    );
    assert_eq!(
        failed(&results),
        ["requested files exist", "linked files exist"]
    );
    let requested = &results[0].detail;
    assert!(
        requested.contains("`script.js` is missing")
            && requested.contains("`about.html` is missing")
    );
    assert!(
        !requested.contains("marked.min.js"),
        "names inside URLs are not requests: {requested}"
    );
    assert!(results[1].detail.contains("`img/logo.png`"));
    assert!(results.iter().all(|r| r.kind == CheckKind::Static));
}

#[test]
fn broken_documents_and_data_fail() {
    let mut site = good_site();
    site.push(file("broken.html", "<p>no doctype<script>alert(1)"));
    site.push(file("bad.json", "{\"a\": }"));
    site.push(file("bad.svg", "<svg><g></svg>"));
    let results = run(&site, "", &[], &[]);
    assert_eq!(failed(&results), ["HTML parses", "JSON and SVG parse"]);
    assert!(
        results[2]
            .detail
            .contains("`broken.html` has no <!DOCTYPE html>")
    );
    assert!(results[2].detail.contains("unclosed <script>"));
    assert!(results[3].detail.contains("bad.json") && results[3].detail.contains("bad.svg"));
}

#[test]
fn altered_attachments_license_and_readme_fail() {
    let mut site = good_site();
    for f in &mut site {
        match f.path.as_str() {
            "LICENSE" => f.bytes = b"All rights reserved".to_vec(),
            "README.md" => f.bytes = b"# Title\n## Usage\n".to_vec(),
            _ => {}
        }
    }
    let attachment = Attachment {
        name: SitePath::parse("data.json").unwrap(),
        media_type: "application/json".into(),
        data: Arc::new(b"{\"a\": 2}".to_vec()),
    };
    let results = run(&site, "", &[], &[attachment]);
    assert_eq!(
        failed(&results),
        [
            "attachments are byte-identical",
            "LICENSE is MIT",
            "README has its sections"
        ]
    );
    assert!(results[6].detail.contains("no summary section"));
    assert!(!results[6].detail.contains("usage"));
}

#[test]
fn links_resolve_relative_to_their_page() {
    let from = SitePath::parse("blog/post.html").unwrap();
    assert_eq!(resolve(&from, "../style.css").as_deref(), Some("style.css"));
    assert_eq!(
        resolve(&from, "img/a%20b.png").as_deref(),
        Some("blog/img/a b.png")
    );
    assert_eq!(
        resolve(&from, "/about/").as_deref(),
        Some("about/index.html")
    );
    assert_eq!(resolve(&from, "../../etc/passwd"), None);
}
