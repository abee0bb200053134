//! The static checks: what the files alone show (files named by the brief,
//! links, parsing, attachments, LICENSE, README).

use std::{
    cell::RefCell,
    collections::{BTreeSet, HashMap},
    sync::LazyLock,
};

use lol_html::{RewriteStrSettings, element, rewrite_str};
use pagesmith::{
    bundle::BundleFile,
    db::versions::{CheckKind, CheckResult},
    domain::SitePath,
};
use regex::Regex;
use sha2::{Digest, Sha256};

use crate::generator::Attachment;

/// File names a brief or check asks for: `style.css`, `data/sales.json`.
static NAMED_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9][a-z0-9_-]*(?:/[a-z0-9_-]+)*\.(?:html?|css|js|mjs|json|md|csv|txt|svg|png|jpe?g|gif|webp)\b")
        .expect("valid regex")
});
static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[a-z][a-z0-9+.-]*://\S+").expect("valid regex"));

/// Runs every check over the site's files.
pub fn run(
    files: &[BundleFile],
    brief: &str,
    checks: &[String],
    attachments: &[Attachment],
) -> Vec<CheckResult> {
    let by_path: HashMap<&str, &BundleFile> = files.iter().map(|f| (f.path.as_str(), f)).collect();
    vec![
        requested_files(&by_path, brief, checks),
        linked_files(files, &by_path),
        html_parses(files),
        data_parses(files),
        attachments_intact(&by_path, attachments),
        license_is_mit(&by_path),
        readme_sections(&by_path),
    ]
}

fn result(name: &str, failures: Vec<String>, ok: impl Into<String>) -> CheckResult {
    CheckResult {
        name: name.to_owned(),
        kind: CheckKind::Static,
        passed: failures.is_empty(),
        detail: if failures.is_empty() {
            ok.into()
        } else {
            failures.join("; ")
        },
    }
}

fn text(file: &BundleFile) -> String {
    String::from_utf8_lossy(&file.bytes).into_owned()
}

/// Names the brief and checks mention, outside URLs.
pub fn requested_names(brief: &str, checks: &[String]) -> BTreeSet<String> {
    let mut names = BTreeSet::from(["index.html".to_owned()]);
    for source in std::iter::once(brief).chain(checks.iter().map(String::as_str)) {
        let without_urls = URL.replace_all(source, " ");
        for m in NAMED_FILE.find_iter(&without_urls) {
            if let Ok(path) = SitePath::parse(m.as_str()) {
                names.insert(path.to_string());
            }
        }
    }
    names
}

fn requested_files(
    by_path: &HashMap<&str, &BundleFile>,
    brief: &str,
    checks: &[String],
) -> CheckResult {
    let requested = requested_names(brief, checks);
    let lower: BTreeSet<String> = by_path.keys().map(|p| p.to_lowercase()).collect();
    let missing: Vec<String> = requested
        .iter()
        .filter(|name| !lower.contains(&name.to_lowercase()))
        .map(|name| format!("`{name}` is missing"))
        .collect();
    let names: Vec<&str> = requested.iter().map(String::as_str).collect();
    result(
        "requested files exist",
        missing,
        format!("found {}", names.join(", ")),
    )
}

/// Relative `href`/`src` targets of an HTML document.
fn local_links(html: &str) -> Vec<String> {
    let links = RefCell::new(Vec::new());
    let settings =
        RewriteStrSettings::new().append_element_content_handler(element!("[href], [src]", |el| {
            for name in ["href", "src"] {
                if let Some(value) = el.get_attribute(name) {
                    links.borrow_mut().push(value);
                }
            }
            Ok(())
        }));
    let _ = rewrite_str(html, settings);
    links
        .into_inner()
        .into_iter()
        .filter_map(|link| {
            let link = link.trim();
            let lower = link.to_ascii_lowercase();
            let external = link.is_empty()
                || link.starts_with('#')
                || link.starts_with("//")
                || lower.contains(':') // http:, https:, mailto:, data:, javascript:, tel:
                || link.starts_with("{{");
            (!external).then(|| link.split(['#', '?']).next().unwrap_or(link).to_owned())
        })
        .filter(|link| !link.is_empty())
        .collect()
}

/// Resolves `link` against the directory of `from`.
fn resolve(from: &SitePath, link: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(link)
        .decode_utf8()
        .ok()?;
    let mut parts: Vec<&str> = if decoded.starts_with('/') {
        Vec::new()
    } else {
        from.as_str()
            .rsplit_once('/')
            .map(|(dir, _)| dir.split('/').collect())
            .unwrap_or_default()
    };
    for part in decoded.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    Some(if decoded.ends_with('/') || joined.is_empty() {
        format!(
            "{joined}{}index.html",
            if joined.is_empty() { "" } else { "/" }
        )
    } else {
        joined
    })
}

fn linked_files(files: &[BundleFile], by_path: &HashMap<&str, &BundleFile>) -> CheckResult {
    let mut missing = BTreeSet::new();
    let mut count = 0;
    for file in files
        .iter()
        .filter(|f| pagesmith::domain::file_type::is_html(&f.path))
    {
        for link in local_links(&text(file)) {
            count += 1;
            match resolve(&file.path, &link) {
                Some(target) if by_path.contains_key(target.as_str()) => {}
                Some(target) => {
                    missing.insert(format!(
                        "`{}` links to `{target}`, which does not exist",
                        file.path
                    ));
                }
                None => {
                    missing.insert(format!("`{}` links outside the site: `{link}`", file.path));
                }
            }
        }
    }
    result(
        "linked files exist",
        missing.into_iter().collect(),
        format!("{count} local links resolve"),
    )
}

fn html_parses(files: &[BundleFile]) -> CheckResult {
    let mut failures = Vec::new();
    for file in files
        .iter()
        .filter(|f| pagesmith::domain::file_type::is_html(&f.path))
    {
        let Ok(html) = std::str::from_utf8(&file.bytes) else {
            failures.push(format!("`{}` is not UTF-8", file.path));
            continue;
        };
        let lower = html.to_ascii_lowercase();
        if !(lower.contains("<html") || lower.contains("<!doctype html")) {
            failures.push(format!("`{}` has no <!DOCTYPE html> or <html>", file.path));
        }
        if lower.matches("<script").count() != lower.matches("</script>").count() {
            failures.push(format!("`{}` has an unclosed <script>", file.path));
        }
        if lower.matches("<style").count() != lower.matches("</style>").count() {
            failures.push(format!("`{}` has an unclosed <style>", file.path));
        }
        if let Err(e) = rewrite_str(html, RewriteStrSettings::new()) {
            failures.push(format!("`{}` does not parse: {e}", file.path));
        }
    }
    result(
        "HTML parses",
        failures,
        "every HTML file is a complete document",
    )
}

fn data_parses(files: &[BundleFile]) -> CheckResult {
    let mut failures = Vec::new();
    for file in files {
        match file.path.extension().as_deref() {
            Some("json" | "webmanifest" | "map") => {
                if let Err(e) = serde_json::from_slice::<serde_json::Value>(&file.bytes) {
                    failures.push(format!("`{}` is not valid JSON: {e}", file.path));
                }
            }
            Some("svg") => {
                if let Err(e) = xml_well_formed(&file.bytes) {
                    failures.push(format!("`{}` is not valid SVG/XML: {e}", file.path));
                }
            }
            _ => {}
        }
    }
    result(
        "JSON and SVG parse",
        failures,
        "every JSON and SVG file parses",
    )
}

fn xml_well_formed(bytes: &[u8]) -> Result<(), String> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut depth: i64 = 0;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Start(_)) => depth += 1,
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => {
                return if depth == 0 {
                    Ok(())
                } else {
                    Err("unclosed element".into())
                };
            }
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        buf.clear();
    }
}

fn attachments_intact(
    by_path: &HashMap<&str, &BundleFile>,
    attachments: &[Attachment],
) -> CheckResult {
    let failures: Vec<String> = attachments
        .iter()
        .filter_map(|a| match by_path.get(a.name.as_str()) {
            None => Some(format!("`{}` is missing", a.name)),
            Some(f) if Sha256::digest(&f.bytes) != Sha256::digest(a.data.as_slice()) => {
                Some(format!("`{}` differs from the attachment", a.name))
            }
            Some(_) => None,
        })
        .collect();
    result(
        "attachments are byte-identical",
        failures,
        format!("{} attachment(s) identical", attachments.len()),
    )
}

fn license_is_mit(by_path: &HashMap<&str, &BundleFile>) -> CheckResult {
    let failures = match by_path.get("LICENSE").map(|f| text(f)) {
        None => vec!["LICENSE is missing".to_owned()],
        Some(t)
            if t.contains("MIT License")
                && t.contains("Permission is hereby granted, free of charge") =>
        {
            vec![]
        }
        Some(_) => vec!["LICENSE is not the MIT license".to_owned()],
    };
    result("LICENSE is MIT", failures, "MIT")
}

fn readme_sections(by_path: &HashMap<&str, &BundleFile>) -> CheckResult {
    let Some(readme) = by_path.get("README.md").map(|f| text(f).to_lowercase()) else {
        return result(
            "README has its sections",
            vec!["README.md is missing".into()],
            "",
        );
    };
    let headings: Vec<&str> = readme
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .collect();
    let missing: Vec<String> = [
        ("summary", &["summary", "overview", "about"][..]),
        ("setup", &["setup", "installation", "getting started"][..]),
        ("usage", &["usage", "how to use"][..]),
        (
            "code explanation",
            &["code", "explanation", "how it works", "structure"][..],
        ),
        ("license", &["license", "licence"][..]),
    ]
    .iter()
    .filter(|(_, words)| !headings.iter().any(|h| words.iter().any(|w| h.contains(w))))
    .map(|(section, _)| format!("README.md has no {section} section"))
    .collect();
    result(
        "README has its sections",
        missing,
        "summary, setup, usage, code explanation, license",
    )
}

#[cfg(test)]
mod tests;
