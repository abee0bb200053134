//! Files other than pages: the stylesheet and script every site gets, and
//! whatever other file the brief or a check names (`data.json`, `app.js`,
//! `theme.css`, `logo.svg`…), each with content that fits its name.

use maud::{PreEscaped, html};
use serde_json::{Map, Value, json};

use super::{Site, html::Text};

/// The stylesheet every site gets.
pub const STYLE_CSS: &str = include_str!("style.css");
/// The progressive enhancements every site gets; the page works without it.
pub const SCRIPT_JS: &str = include_str!("script.js");

/// Rows of a CSV copied into a JSON file; the CSV itself has them all.
const MAX_JSON_ROWS: usize = 5_000;

/// Content for a named file that is not a page. `None` for a type this
/// generator does not write.
pub fn named(site: &Site<'_>, path: &str) -> Option<String> {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    let title = &site.outline.title;
    let stem = path
        .rsplit('/')
        .next()
        .unwrap_or(path)
        .split('.')
        .next()
        .unwrap_or_default();
    if stem.eq_ignore_ascii_case("license") {
        return Some(super::docs::license(site.year, site.owner()));
    }
    let text = match ext.as_str() {
        "css" => format!(
            "/* {path}: extra styles for {title}, loaded after style.css. */\n\n\
             @media print {{\n  .site-header nav, .skip-link, .button {{ display: none; }}\n  \
             body {{ background: #fff; color: #000; }}\n  .card {{ box-shadow: none; border: 1px solid #ccc; }}\n}}\n",
            title = comment_safe(title)
        ),
        "js" | "mjs" => format!(
            "// {path}: loaded by the pages of {title}. It marks the document as\n\
             // enhanced, so styles can tell when scripts run.\n\
             \"use strict\";\n\n\
             document.addEventListener(\"DOMContentLoaded\", () => {{\n  \
             document.documentElement.classList.add(\"js\");\n}});\n",
            title = comment_safe(title)
        ),
        "json" | "webmanifest" => json_file(site, &ext),
        "md" => markdown(site),
        "txt" => plain_text(site),
        "csv" => csv_file(site)?,
        "svg" => svg(title),
        "xml" => xml(title, &site.outline.lead),
        _ => return None,
    };
    Some(text)
}

/// Text safe inside a `/* */` or `//` comment.
fn comment_safe(text: &str) -> String {
    text.replace("*/", "* /").replace(['\n', '\r'], " ")
}

fn json_file(site: &Site<'_>, ext: &str) -> String {
    let title = &site.outline.title;
    let value = if ext == "webmanifest" {
        json!({
            "name": title,
            "short_name": super::html::shorten(title, 12),
            "start_url": "index.html",
            "display": "standalone",
        })
    } else if let (Some(table), Some(source)) = (site.tables.first(), first_csv_name(site)) {
        let rows: Vec<Value> = table
            .rows
            .iter()
            .take(MAX_JSON_ROWS)
            .map(|row| {
                let object: Map<String, Value> = table
                    .headers
                    .iter()
                    .zip(row)
                    .map(|(h, cell)| (h.clone(), cell_value(cell)))
                    .collect();
                Value::Object(object)
            })
            .collect();
        json!({
            "title": title,
            "source": source,
            "columns": table.headers,
            "row_count": table.rows.len(),
            "rows": rows,
        })
    } else {
        let sections: Vec<Value> = site
            .outline
            .sections
            .iter()
            .map(|s| {
                let items: Vec<&str> = s
                    .items
                    .iter()
                    .map(|i| i.title.as_deref().unwrap_or(&i.text))
                    .collect();
                json!({ "heading": s.heading, "paragraphs": s.paragraphs, "items": items })
            })
            .collect();
        json!({ "title": title, "summary": site.outline.lead, "sections": sections })
    };
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

fn first_csv_name(site: &Site<'_>) -> Option<String> {
    site.request
        .attachments
        .iter()
        .find(|a| super::attachments::kind(a) == super::attachments::Kind::Table)
        .map(|a| a.name.as_str().to_owned())
}

fn cell_value(cell: &str) -> Value {
    cell.parse::<i64>()
        .map(Value::from)
        .ok()
        .or_else(|| {
            cell.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
        })
        .unwrap_or_else(|| Value::String(cell.to_owned()))
}

fn markdown(site: &Site<'_>) -> String {
    let mut out = format!("# {}\n\n{}\n", site.outline.title, site.outline.lead);
    for section in &site.outline.sections {
        out.push_str(&format!("\n## {}\n\n", section.heading));
        for p in &section.paragraphs {
            out.push_str(&format!("{p}\n\n"));
        }
        for item in &section.items {
            match &item.title {
                Some(t) => out.push_str(&format!("- **{t}**: {}\n", item.text)),
                None => out.push_str(&format!("- {}\n", item.text)),
            }
        }
    }
    out
}

fn plain_text(site: &Site<'_>) -> String {
    let mut out = format!("{}\n\n{}\n", site.outline.title, site.outline.lead);
    for section in &site.outline.sections {
        out.push_str(&format!("\n{}\n", section.heading));
        for p in &section.paragraphs {
            out.push_str(&format!("{p}\n"));
        }
        for item in &section.items {
            out.push_str(&format!("- {}\n", item.text));
        }
    }
    out
}

fn csv_file(site: &Site<'_>) -> Option<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["section", "text"]).ok()?;
    for section in &site.outline.sections {
        for text in section
            .paragraphs
            .iter()
            .chain(section.items.iter().map(|i| &i.text))
        {
            writer
                .write_record([section.heading.as_str(), text.as_str()])
                .ok()?;
        }
    }
    String::from_utf8(writer.into_inner().ok()?).ok()
}

/// The XML declaration, ours, before the markup.
const XML_DECLARATION: PreEscaped<&str> = PreEscaped(r#"<?xml version="1.0" encoding="UTF-8"?>"#);

/// A small XML summary of the site. maud's escaping is XML's too.
fn xml(title: &str, lead: &str) -> String {
    html! {
        (XML_DECLARATION) "\n"
        site {
            "\n  " title { (Text(title)) }
            "\n  " summary { (Text(lead)) }
            "\n  " page { "index.html" }
            "\n"
        }
        "\n"
    }
    .into_string()
}

/// A logo: the title's initials on a square. Standalone SVG is XML, so
/// `<rect>` is closed with its end tag.
fn svg(title: &str) -> String {
    let initials: String = title
        .split_whitespace()
        .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    let title = Text(title);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64"
            role="img" aria-label=(title) {
            "\n"
            title { (title) } "\n"
            rect width="64" height="64" rx="14" fill="#4f46e5" {} "\n"
            text x="32" y="41" text-anchor="middle" font-family="system-ui, sans-serif"
                font-size="24" font-weight="700" fill="#ffffff" {
                (Text(initials))
            }
            "\n"
        }
        "\n"
    }
    .into_string()
}
