//! Showing attachments on the page, each linked by its exact name: images
//! as images, CSV as a table (parsed here, at build time), JSON
//! pretty-printed, text in `<pre>`, media with players, the rest as
//! downloads.

use maud::{Markup, html};

use super::html::{Text, href, humanize};
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
pub fn card(attachment: &Attachment, table_id: Option<&str>) -> Markup {
    let name = attachment.name.as_str();
    let link = href("", name);
    html! {
        article class="card attachment" {
            "\n"
            h3 { a href=(link) { (Text(name)) } } "\n"
            p class="meta" {
                (Text(&attachment.media_type)) " · " (size(attachment.data.len()))
            }
            "\n"
            (body(attachment, table_id))
            p {
                a class="button" href=(link) download {
                    "Download " (Text(attachment.name.file_name()))
                }
            }
            "\n"
        }
        "\n"
    }
}

fn body(attachment: &Attachment, table_id: Option<&str>) -> Markup {
    let link = href("", attachment.name.as_str());
    let alt = humanize(attachment.name.file_name());
    html! {
        @match kind(attachment) {
            Kind::Image => {
                figure {
                    img src=(link) alt=(Text(&alt)) loading="lazy" decoding="async"
                        data-attachment-image;
                }
                "\n"
            }
            Kind::Audio => { audio controls preload="metadata" src=(link) {} "\n" }
            Kind::Video => { video controls preload="metadata" src=(link) {} "\n" }
            Kind::Table => {
                @match parse_table(attachment) {
                    Ok(table) => { (table_html(&table, table_id, &alt)) }
                    Err(problem) => {
                        p { "This file " (Text(problem)) "; download it below." } "\n"
                    }
                }
            }
            Kind::Json => { (text_block(attachment, true)) }
            Kind::Text => { (text_block(attachment, false)) }
            Kind::Download => {}
        }
    }
}

fn table_html(table: &Table, id: Option<&str>, caption: &str) -> Markup {
    html! {
        div class="table-wrap" {
            "\n"
            table id=[id.map(Text)] data-sortable {
                "\n"
                caption { (Text(caption)) } "\n"
                thead {
                    tr {
                        @for header in &table.headers {
                            th scope="col" { (Text(header)) }
                        }
                    }
                }
                "\n"
                tbody {
                    "\n"
                    @for row in table.rows.iter().take(MAX_ROWS) {
                        tr {
                            @for cell in row {
                                td class=[number(cell).is_some().then_some("num")] { (Text(cell)) }
                            }
                        }
                        "\n"
                    }
                }
                "\n"
            }
            "\n"
        }
        "\n"
        @if table.rows.len() > MAX_ROWS {
            p class="meta" {
                "Showing the first " (MAX_ROWS) " of " (table.rows.len()) " rows."
            }
            "\n"
        }
    }
}

fn text_block(attachment: &Attachment, json: bool) -> Markup {
    let Ok(text) = std::str::from_utf8(&attachment.data) else {
        return html! { p { "This file is not UTF-8 text; download it below." } "\n" };
    };
    let pretty = json
        .then(|| serde_json::from_str::<serde_json::Value>(text).ok())
        .flatten()
        .and_then(|v| serde_json::to_string_pretty(&v).ok());
    let text = pretty.as_deref().unwrap_or(text);
    let shown = clip(text);
    let markdown = (attachment.name.extension().as_deref() == Some("md"))
        .then(|| Text(attachment.name.as_str()));
    html! {
        pre class="source" data-markdown-source=[markdown] { code { (Text(shown)) } } "\n"
        @if shown.len() < text.len() {
            p class="meta" { "The rest is in the file." } "\n"
        }
    }
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
