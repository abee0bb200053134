//! Showing attachments on the page, each linked by its exact name: images
//! as images, CSV as a table (parsed here, at build time), JSON
//! pretty-printed, text in `<pre>`, media with players, the rest as
//! downloads.

use std::fmt::Write as _;

use super::html::{escape, href, humanize};
use crate::generator::Attachment;

/// How an attachment is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Image,
    Table,
    Json,
    Text,
    Audio,
    Video,
    Download,
}

/// Parsed rows of a CSV or TSV attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Rows shown in a table; the file itself holds the rest.
const MAX_ROWS: usize = 200;
/// Bytes of text or JSON shown inline.
const MAX_TEXT: usize = 64 * 1024;

/// What kind of attachment this is, by extension, then by media type.
pub fn kind(attachment: &Attachment) -> Kind {
    let ext = attachment.name.extension().unwrap_or_default();
    let media = attachment.media_type.to_ascii_lowercase();
    match ext.as_str() {
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "avif" | "svg" | "bmp" | "ico" => Kind::Image,
        "csv" | "tsv" => Kind::Table,
        "json" | "webmanifest" | "map" => Kind::Json,
        "md" | "txt" | "xml" | "html" | "htm" | "css" | "js" | "mjs" => Kind::Text,
        "mp3" | "wav" | "ogg" => Kind::Audio,
        "mp4" | "webm" => Kind::Video,
        _ if media.starts_with("image/") => Kind::Image,
        _ if media.starts_with("text/csv") => Kind::Table,
        _ if media.contains("json") => Kind::Json,
        _ if media.starts_with("text/") => Kind::Text,
        _ => Kind::Download,
    }
}

/// Parses CSV (or TSV, by extension), quoted fields and ragged rows included.
pub fn parse_table(attachment: &Attachment) -> Result<Table, String> {
    let delimiter = if attachment.name.extension().as_deref() == Some("tsv") {
        b'\t'
    } else {
        b','
    };
    let data = attachment
        .data
        .strip_prefix(b"\xef\xbb\xbf")
        .unwrap_or(&attachment.data);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("cannot be read as CSV: {e}"))?;
        records.push(
            record
                .iter()
                .map(|f| f.trim().to_owned())
                .collect::<Vec<_>>(),
        );
    }
    if records.is_empty() {
        return Err("is empty".to_owned());
    }
    let headers = records.remove(0);
    Ok(Table {
        headers,
        rows: records,
    })
}

/// The sum of the numeric column that best matches `words` (from an id
/// such as `total-sales`), written plainly (`1234.5`) because checks read it.
pub fn column_total(table: &Table, words: &[String]) -> Option<String> {
    let numeric: Vec<usize> = (0..table.headers.len())
        .filter(|&c| {
            let mut cells = table
                .rows
                .iter()
                .filter_map(|r| r.get(c))
                .filter(|v| !v.is_empty());
            cells.clone().next().is_some() && cells.all(|v| number(v).is_some())
        })
        .collect();
    let header = |c: usize| table.headers[c].to_lowercase();
    let preferred = [
        "sales", "amount", "revenue", "total", "price", "value", "count",
    ];
    let column = numeric
        .iter()
        .copied()
        .find(|&c| {
            words
                .iter()
                .any(|w| w.len() >= 3 && header(c).contains(w.as_str()))
        })
        .or_else(|| {
            numeric
                .iter()
                .copied()
                .find(|&c| preferred.iter().any(|p| header(c).contains(p)))
        })
        .or_else(|| numeric.last().copied())?;
    let sum: f64 = table
        .rows
        .iter()
        .filter_map(|r| r.get(column).and_then(|v| number(v)))
        .sum();
    Some(plain_number(sum))
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// `60` rather than `60.0`, `0.3` rather than `0.30000000000000004`.
pub fn plain_number(n: f64) -> String {
    let rounded = (n * 1e9).round() / 1e9;
    if rounded.fract() == 0.0 && rounded.abs() < 9e15 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded}")
    }
}

/// The attachment as a card: its name, what it is, its content, a link.
pub fn card(attachment: &Attachment, table_id: Option<&str>) -> String {
    let name = attachment.name.as_str();
    let link = href("", name);
    let mut out = String::new();
    let _ = write!(
        out,
        "<article class=\"card attachment\">\n<h3><a href=\"{link}\">{}</a></h3>\n<p class=\"meta\">{} · {}</p>\n",
        escape(name),
        escape(&attachment.media_type),
        size(attachment.data.len())
    );
    out.push_str(&body(attachment, table_id));
    let _ = write!(
        out,
        "<p><a class=\"button\" href=\"{link}\" download>Download {}</a></p>\n</article>\n",
        escape(attachment.name.file_name())
    );
    out
}

fn body(attachment: &Attachment, table_id: Option<&str>) -> String {
    let link = href("", attachment.name.as_str());
    let alt = escape(&humanize(attachment.name.file_name()));
    match kind(attachment) {
        Kind::Image => format!(
            "<figure><img src=\"{link}\" alt=\"{alt}\" loading=\"lazy\" decoding=\"async\" data-attachment-image></figure>\n"
        ),
        Kind::Audio => format!("<audio controls preload=\"metadata\" src=\"{link}\"></audio>\n"),
        Kind::Video => format!("<video controls preload=\"metadata\" src=\"{link}\"></video>\n"),
        Kind::Table => match parse_table(attachment) {
            Ok(table) => table_html(&table, table_id, &alt),
            Err(problem) => format!(
                "<p>This file {}; download it below.</p>\n",
                escape(&problem)
            ),
        },
        Kind::Json => text_block(attachment, true),
        Kind::Text => text_block(attachment, false),
        Kind::Download => String::new(),
    }
}

fn table_html(table: &Table, id: Option<&str>, caption: &str) -> String {
    let id = id
        .map(|id| format!(" id=\"{}\"", escape(id)))
        .unwrap_or_default();
    let mut out = format!(
        "<div class=\"table-wrap\">\n<table{id} data-sortable>\n<caption>{caption}</caption>\n<thead><tr>"
    );
    for header in &table.headers {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(header));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in table.rows.iter().take(MAX_ROWS) {
        out.push_str("<tr>");
        for cell in row {
            let class = if number(cell).is_some() {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    if table.rows.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "<p class=\"meta\">Showing the first {MAX_ROWS} of {} rows.</p>",
            table.rows.len()
        );
    }
    out
}

fn text_block(attachment: &Attachment, json: bool) -> String {
    let Ok(text) = std::str::from_utf8(&attachment.data) else {
        return "<p>This file is not UTF-8 text; download it below.</p>\n".to_owned();
    };
    let pretty = json
        .then(|| serde_json::from_str::<serde_json::Value>(text).ok())
        .flatten()
        .and_then(|v| serde_json::to_string_pretty(&v).ok());
    let text = pretty.as_deref().unwrap_or(text);
    let end = clip(text).len();
    let markdown = if attachment.name.extension().as_deref() == Some("md") {
        format!(
            " data-markdown-source=\"{}\"",
            escape(attachment.name.as_str())
        )
    } else {
        String::new()
    };
    let mut out = format!(
        "<pre class=\"source\"{markdown}><code>{}</code></pre>\n",
        escape(&text[..end])
    );
    if end < text.len() {
        out.push_str("<p class=\"meta\">The rest is in the file.</p>\n");
    }
    out
}

/// At most [`MAX_TEXT`] bytes of `text`, cut at a character boundary, so
/// a large attachment cannot make the page huge.
pub fn clip(text: &str) -> &str {
    crate::text::prefix_bytes(text, MAX_TEXT)
}

fn size(bytes: usize) -> String {
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{:.1} KB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
#[path = "attachments_tests.rs"]
mod tests;
