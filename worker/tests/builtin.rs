//! The built-in generator on quite different briefs, checked the way the
//! worker's validation and self-check will see its output.

use std::{collections::BTreeMap, sync::Arc};

use pagesmith::domain::{SitePath, file_type};
use worker::generator::{
    Attachment, GeneratedFile, Generator, SiteRequest, builtin::BuiltinGenerator,
};

const YEAR: i32 = 2031;
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

type Files = BTreeMap<String, String>;

fn attachment(name: &str, media_type: &str, data: &[u8]) -> Attachment {
    Attachment {
        name: SitePath::parse(name).unwrap(),
        media_type: media_type.to_owned(),
        data: Arc::new(data.to_vec()),
    }
}

fn request(brief: &str, checks: &[&str], attachments: Vec<Attachment>) -> SiteRequest {
    SiteRequest {
        brief: brief.to_owned(),
        checks: checks.iter().map(|c| (*c).to_owned()).collect(),
        attachments,
        round: 1,
        owner: "Octo Cat".to_owned(),
        ..SiteRequest::default()
    }
}

/// Generates twice, checks the output is byte-identical and valid for the
/// worker, and returns it by path.
async fn generate(request: &SiteRequest) -> Files {
    let generator = BuiltinGenerator::with_year(YEAR);
    let first = generator.generate(request).await.unwrap();
    let second = generator.generate(request).await.unwrap();
    assert_eq!(first.generator, "builtin");
    assert_eq!(first.files, second.files, "output is not deterministic");
    let files = by_path(&first.files);
    assert_valid(&files, request);
    files
}

fn by_path(files: &[GeneratedFile]) -> Files {
    let map: Files = files
        .iter()
        .map(|f| (f.path.clone(), f.content.clone()))
        .collect();
    assert_eq!(map.len(), files.len(), "a path is listed twice");
    map
}

/// What the worker's validation and self-check require of every site.
fn assert_valid(files: &Files, request: &SiteRequest) {
    for path in files.keys() {
        let parsed = SitePath::parse(path).unwrap_or_else(|e| panic!("{path} {e}"));
        assert_eq!(parsed.as_str(), path, "path is not normalized");
        assert!(
            file_type::media_type(&parsed).is_some(),
            "{path} has a refused type"
        );
    }
    for required in [
        "index.html",
        "style.css",
        "script.js",
        "README.md",
        "LICENSE",
    ] {
        assert!(files.contains_key(required), "{required} missing");
    }
    // `.nojekyll` is added to every site later, by the manifest; the
    // README, which lists the site's files, already describes it.
    assert!(!files.contains_key(".nojekyll"));
    let readme = &files["README.md"];
    assert!(readme.contains("| `.nojekyll` |"), "README omits .nojekyll");
    for heading in [
        "## Summary",
        "## Setup",
        "## Usage",
        "## Code explanation",
        "## License",
    ] {
        assert!(
            readme.contains(&format!("\n{heading}\n")),
            "README lacks {heading}"
        );
    }
    let license = &files["LICENSE"];
    assert!(license.starts_with("MIT License\n"));
    assert!(license.contains(&format!("Copyright (c) {YEAR} {}", request.owner)));
    assert!(license.contains("THE SOFTWARE IS PROVIDED \"AS IS\""));

    for (path, content) in files.iter().filter(|(p, _)| p.ends_with(".html")) {
        let prefix = "../".repeat(path.matches('/').count());
        for link in local_links(content) {
            let target = link
                .strip_prefix(&prefix)
                .unwrap_or(&link)
                .replace("%20", " ");
            let exists = files.contains_key(&target)
                || request
                    .attachments
                    .iter()
                    .any(|a| a.name.as_str() == target);
            assert!(exists, "{path} links to missing {link}");
        }
        let ids = ids(content);
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(ids.len(), unique.len(), "{path} repeats an id: {ids:?}");
    }
    let index = &files["index.html"];
    for a in &request.attachments {
        let link = a.name.as_str().replace(' ', "%20");
        assert!(
            index.contains(&format!("href=\"{link}\"")),
            "{} is not linked",
            a.name
        );
    }
}

/// `href`/`src` values that point into the site.
fn local_links(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let value = &rest[..rest.find('"').unwrap()];
            if !(value.starts_with("http") || value.starts_with('#') || value.is_empty()) {
                links.push(value.to_owned());
            }
        }
    }
    links
}

fn ids(html: &str) -> Vec<String> {
    html.match_indices(" id=\"")
        .map(|(i, _)| {
            let rest = &html[i + 5..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

const BAKERY: &str = "Create a landing page for a bakery called Sunrise Bakery. We bake sourdough every morning in Leeds.\n\nMenu:\n- Sourdough: a slow, 36-hour loaf\n- Croissants: butter, folded by hand\n- Cakes — made to order\n\nAdd an about.html page with our story and a contact form with id contact-form.\nUse style.css for the styles.";

#[tokio::test]
async fn a_bakery_landing_page_has_its_name_menu_pages_and_form() {
    let files = generate(&request(BAKERY, &[], vec![])).await;
    let index = &files["index.html"];
    assert!(index.contains("<title>Sunrise Bakery</title>"));
    assert!(index.contains("<h1>Sunrise Bakery</h1>"));
    assert!(index.contains("<h2>Menu</h2>"));
    assert!(index.contains("<h3>Sourdough</h3><p>a slow, 36-hour loaf</p>"));
    assert!(index.contains("<h3>Cakes</h3><p>made to order</p>"));
    assert!(index.contains("<form id=\"contact-form\""));
    assert!(index.contains("<a href=\"about.html\">About</a>"));
    assert!(index.contains("<link rel=\"stylesheet\" href=\"style.css\">"));
    assert!(index.contains("<script src=\"script.js\" defer></script>"));
    assert!(
        index.contains("<header")
            && index.contains("<nav")
            && index.contains("<main")
            && index.contains("<footer")
    );
    assert!(index.contains("© <span data-year>2031</span> Octo Cat"));
    let about = &files["about.html"];
    assert!(about.contains("<h1>About</h1>"));
    assert!(about.contains("href=\"index.html\""));
    let css = &files["style.css"];
    assert!(css.contains("--accent") && css.contains("prefers-color-scheme: dark"));
    insta::assert_snapshot!("bakery_index_html", index);
}

#[tokio::test]
async fn a_captcha_solver_shows_the_sample_and_reads_the_url_parameter() {
    let brief = "Create a captcha solver that handles ?url=https://example.com/captcha.png. Default to the attached sample.png. Show the solved text within 15 seconds.";
    let checks = [
        "Page displays captcha URL passed at ?url=https://example.com/captcha.png",
        "Page displays solved captcha text within 15 seconds",
    ];
    let request = request(
        brief,
        &checks,
        vec![attachment("sample.png", "image/png", PNG)],
    );
    let files = generate(&request).await;
    let index = &files["index.html"];
    assert!(index.contains("<img src=\"sample.png\" alt=\"Sample\""));
    assert!(index.contains("data-query-param=\"url\""));
    assert!(files["script.js"].contains("URLSearchParams"));
    assert!(
        !files.contains_key("sample.png"),
        "attachments are not rewritten"
    );
    assert!(
        !files.keys().any(|p| p.contains("example.com")),
        "a URL is not a file"
    );
}

#[tokio::test]
async fn a_sales_summary_renders_the_csv_and_computes_the_total() {
    let csv = b"product,region,sales\n\"Widget, large\",North,1000.25\nGadget,\"South \"\"East\"\"\",234.25\n";
    let brief = "Publish a sales summary page titled \"Sales Summary\". Render data.csv as a table, sum its sales column into an element with id total-sales, and save the rows as data.json.";
    let checks = [
        "document.title === 'Sales Summary'",
        "Math.abs(Number(document.querySelector(\"#total-sales\").textContent) - 1234.5) < 0.01",
    ];
    let request = request(
        brief,
        &checks,
        vec![attachment("data.csv", "text/csv", csv)],
    );
    let files = generate(&request).await;
    let index = &files["index.html"];
    assert!(index.contains("<title>Sales Summary</title>"));
    assert!(index.contains(
        "<th scope=\"col\">product</th><th scope=\"col\">region</th><th scope=\"col\">sales</th>"
    ));
    assert!(
        index.contains(
            "<tr><td>Widget, large</td><td>North</td><td class=\"num\">1000.25</td></tr>"
        )
    );
    assert!(index.contains("<td>South &quot;East&quot;</td>"));
    assert!(index.contains("<output id=\"total-sales\">1234.5</output>"));
    let data: serde_json::Value = serde_json::from_str(&files["data.json"]).unwrap();
    assert_eq!(data["rows"][0]["product"], "Widget, large");
    assert_eq!(data["rows"][1]["sales"], 234.25);
    assert!(index.contains("href=\"data.json\""));
    let readme = &files["README.md"];
    assert!(readme.contains("The home page has these sections: Overview, At a glance, Files."));
    assert!(readme.contains("| `data.json` | The first CSV attachment's rows as JSON"));
    assert!(
        readme.contains("| `data.csv` | Attachment, kept byte for byte and rendered as a table")
    );
}

#[tokio::test]
async fn a_portfolio_turns_its_bullet_list_into_project_cards() {
    let brief = "# Jane Doe — Designer\n\nI design calm interfaces for busy people.\n\n## Projects\n- **Atlas**: a map app for hikers\n- **Beacon**: status pages that people read\n- Tidy — a budgeting tool\n\n## Contact\nWrite to jane@example.com. My process is in docs/process.html and LICENSE.md.";
    let files = generate(&request(brief, &[], vec![])).await;
    let index = &files["index.html"];
    assert!(index.contains("<h1>Jane Doe — Designer</h1>"));
    assert!(index.contains("<p class=\"lead\">I design calm interfaces for busy people.</p>"));
    assert!(index.contains("<section id=\"projects\" class=\"section\">"));
    for card in [
        "<h3>Atlas</h3><p>a map app for hikers</p>",
        "<h3>Beacon</h3>",
        "<h3>Tidy</h3><p>a budgeting tool</p>",
    ] {
        assert!(index.contains(card), "missing card {card}");
    }
    assert!(index.contains("<a href=\"#projects\">Projects</a>"));
    assert!(index.contains("<a href=\"#contact\">Contact</a>"));
    assert!(index.contains("<a href=\"docs/process.html\">Process</a>"));
    let process = &files["docs/process.html"];
    assert!(process.contains("<link rel=\"stylesheet\" href=\"../style.css\">"));
    assert!(process.contains("href=\"../index.html\""));
    assert!(files["LICENSE.md"].starts_with("MIT License\n"));
}

#[tokio::test]
async fn a_markdown_converter_loads_marked_and_shows_the_input() {
    let markdown = b"# Notes\n\nSome *text* with <b>html</b> & `code`.\n";
    let brief = "Publish a static page that converts input.md to HTML using marked, renders it inside #markdown-output, and highlights code with highlight.js.";
    let checks = [
        "document.querySelector(\"script[src*='marked']\") !== null",
        "!!document.querySelector(\"#markdown-output\").innerHTML.includes(\"<h\")",
    ];
    let request = request(
        brief,
        &checks,
        vec![attachment("input.md", "text/markdown", markdown)],
    );
    let files = generate(&request).await;
    let index = &files["index.html"];
    assert!(
        index
            .contains("<script src=\"https://cdn.jsdelivr.net/npm/marked@12/marked.min.js\" defer")
    );
    assert!(index.contains("highlight.min.js"));
    assert!(index.contains(
        "<div id=\"markdown-output\" class=\"rendered\" data-markdown-target=\"input.md\">"
    ));
    assert!(index.contains("Some *text* with &lt;b&gt;html&lt;/b&gt; &amp; `code`."));
    assert!(index.contains("data-markdown-source=\"input.md\""));
    assert!(!files.contains_key("marked.js") && !files.contains_key("highlight.js"));
    // marked.js loads before script.js, which uses it.
    assert!(index.find("marked.min.js").unwrap() < index.find("src=\"script.js\"").unwrap());
}

#[tokio::test]
async fn a_hostile_brief_is_shown_as_text_never_as_markup() {
    let brief = "Make a page titled \"<img src=x onerror=alert(1)>\".\n\n<script>alert('pwned')</script>\n\n- </section><iframe src=evil>: & more\n\nUse `</title><script>x()</script>` somewhere.";
    let checks = ["\"><script>alert(2)</script>", "#ok-id", "#main-content"];
    let mut request = request(
        brief,
        &checks,
        vec![attachment(
            "notes & 'quotes'.txt",
            "text/plain",
            b"</pre><script>bad()</script>",
        )],
    );
    request.owner = "<b>Mallory</b>".to_owned();
    let generator = BuiltinGenerator::with_year(YEAR);
    let files = by_path(&generator.generate(&request).await.unwrap().files);
    let index = &files["index.html"];
    for needle in [
        "<script>alert",
        "<img src=x",
        "<iframe",
        "</section><iframe",
        "<script>x()",
        "<script>bad()",
        "<b>Mallory",
        "<script>alert(2)",
    ] {
        assert!(!index.contains(needle), "unescaped: {needle}");
    }
    assert!(index.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"));
    assert!(index.contains("<code>&lt;/title&gt;&lt;script&gt;x()&lt;/script&gt;</code>"));
    assert!(index.contains("href=\"notes%20&amp;%20&#39;quotes&#39;.txt\""));
    assert!(index.contains("&lt;b&gt;Mallory&lt;/b&gt;"));
    assert!(index.contains("<output id=\"ok-id\">"));
    let main_ids = ids(index)
        .into_iter()
        .filter(|id| id == "main-content")
        .count();
    assert_eq!(
        main_ids, 1,
        "a requested id the layout already has is not repeated"
    );
    assert_eq!(
        index.matches("<script").count(),
        1,
        "only our own script tag"
    );
}

#[tokio::test]
async fn a_revision_keeps_the_title_and_files_and_shows_the_change() {
    let first = generate(&request(BAKERY, &[], vec![])).await;
    let mut previous: Vec<GeneratedFile> = first
        .iter()
        .map(|(path, content)| GeneratedFile {
            path: path.clone(),
            content: content.clone(),
        })
        .collect();
    previous.push(GeneratedFile {
        path: "extra/notes.txt".into(),
        content: "kept".into(),
    });
    let mut revision = request(
        "Add a gluten-free section: we now bake rye loaves.",
        &[],
        vec![],
    );
    revision.round = 2;
    revision.previous_files = previous;
    revision.change_request = Some("Add a gluten-free section: we now bake rye loaves.".to_owned());

    let files = generate(&revision).await;
    let index = &files["index.html"];
    assert!(
        index.contains("<title>Sunrise Bakery</title>"),
        "the title is kept"
    );
    assert!(index.contains("we now bake rye loaves"));
    assert!(files.contains_key("about.html"), "round 1's page is kept");
    assert_eq!(files["extra/notes.txt"], "kept");
    assert!(
        files["README.md"].contains("| `extra/notes.txt` | Kept as it was in the previous version")
    );

    let mut with_change = request(BAKERY, &[], vec![]);
    with_change.round = 2;
    with_change.change_request = Some("Add opening hours: 7am to 3pm.".to_owned());
    let files = generate(&with_change).await;
    assert!(
        files["index.html"]
            .contains("<h2>Latest update</h2>\n<p>Add opening hours: 7am to 3pm.</p>")
    );
}

#[tokio::test]
async fn a_repair_creates_the_files_and_ids_the_problems_name() {
    let request = request("A simple page about tea.", &[], vec![]);
    let generator = BuiltinGenerator::with_year(YEAR);
    let current = generator.generate(&request).await.unwrap().files;
    let problems = [
        "index.html links to missing file `app.js`".to_owned(),
        "no element with id `brew-timer` in index.html".to_owned(),
        "check 2 expects #steep-time".to_owned(),
    ];
    let repaired = generator
        .repair(&request, &current, &problems)
        .await
        .unwrap();
    let files = by_path(&repaired.files);
    assert_valid(&files, &request);
    assert!(files.contains_key("app.js"));
    let index = &files["index.html"];
    assert!(index.contains("<script src=\"app.js\" defer></script>"));
    assert!(index.contains("id=\"brew-timer\""));
    assert!(index.contains("id=\"steep-time\""));
    assert_eq!(
        repaired.files,
        generator
            .repair(&request, &current, &problems)
            .await
            .unwrap()
            .files
    );
}

#[tokio::test]
async fn an_empty_brief_still_gives_a_complete_site() {
    let files = generate(&request("", &[], vec![])).await;
    assert!(files["index.html"].contains("<h1>Welcome</h1>"));
    let mut no_owner = request("A page.", &[], vec![]);
    no_owner.owner = String::new();
    let generator = BuiltinGenerator::with_year(YEAR);
    let files = by_path(&generator.generate(&no_owner).await.unwrap().files);
    assert!(files["LICENSE"].contains("Copyright (c) 2031 the site's owner"));
}

#[tokio::test]
async fn large_attachments_keep_the_site_small() {
    let mut csv = String::from("id,value\n");
    for i in 0..20_000 {
        csv.push_str(&format!("{i},{}\n", i % 7));
    }
    let markdown = "# Big\n".repeat(50_000);
    let request = request(
        "Show data.csv, total it in #total-value, render input.md in #markdown-output and save data.json.",
        &[],
        vec![
            attachment("data.csv", "text/csv", csv.as_bytes()),
            attachment("input.md", "text/markdown", markdown.as_bytes()),
        ],
    );
    let files = generate(&request).await;
    let index = &files["index.html"];
    assert!(index.contains("Showing the first 200 of 20000 rows."));
    assert!(index.len() < 400_000, "index.html is {} bytes", index.len());
    let total: u64 = (0..20_000u64).map(|i| i % 7).sum();
    assert!(index.contains(&format!("<output id=\"total-value\">{total}</output>")));
    let data: serde_json::Value = serde_json::from_str(&files["data.json"]).unwrap();
    assert_eq!(data["row_count"], 20_000);
    assert_eq!(data["rows"].as_array().unwrap().len(), 5_000);
}
