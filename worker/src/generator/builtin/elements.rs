//! An element for each id the brief or the checks name, chosen by what the
//! id says it is (`#total-sales` is a value, `#search-input` an input,
//! `#sales-chart` a canvas), with a label, and with real content where the
//! attachments provide it (a CSV column's total, a Markdown file's text).

use super::{
    attachments::{Kind, Table, clip, column_total, kind},
    html::{escape, href, humanize},
};
use crate::generator::Attachment;

/// What an id-bearing element may draw on.
pub struct Context<'a> {
    pub attachments: &'a [Attachment],
    /// The CSV attachments that parsed, in attachment order.
    pub tables: &'a [Table],
    pub query_params: &'a [String],
}

/// The words of an id: `totalSales` and `total_sales` → `total`, `sales`.
pub fn words(id: &str) -> Vec<String> {
    humanize(id)
        .to_lowercase()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn has(words: &[String], any: &[&str]) -> bool {
    words.iter().any(|w| any.contains(&w.as_str()))
}

/// Whether the id names the page's main heading.
pub fn is_heading(id: &str) -> bool {
    matches!(
        id,
        "title" | "page-title" | "main-title" | "heading" | "site-title" | "headline"
    )
}

/// Whether the id names a table (given to the first CSV table).
pub fn is_table(id: &str) -> bool {
    has(&words(id), &["table", "grid"])
}

/// The element, wrapped in a labelled row for the "At a glance" section.
pub fn element(id: &str, context: &Context<'_>) -> String {
    let w = words(id);
    let label = escape(&humanize(id));
    let attr = escape(id);
    let param = context
        .query_params
        .iter()
        .find(|p| w.contains(&p.to_lowercase()));
    let first_image = context.attachments.iter().find(|a| kind(a) == Kind::Image);
    let markdown = context
        .attachments
        .iter()
        .find(|a| a.name.extension().as_deref() == Some("md"));

    let control = if has(&w, &["form"]) {
        format!(
            "<form id=\"{attr}\" class=\"stack\" method=\"get\">\n<label>Your message <input name=\"message\" autocomplete=\"off\"></label>\n<button type=\"submit\">Send</button>\n</form>"
        )
    } else if has(&w, &["button", "btn", "submit", "toggle"]) {
        format!("<button id=\"{attr}\" type=\"button\">{label}</button>")
    } else if has(&w, &["input", "search", "query", "field", "textbox"]) {
        format!(
            "<label for=\"{attr}\">{label}</label> <input id=\"{attr}\" type=\"text\" placeholder=\"{label}\">"
        )
    } else if has(&w, &["textarea", "editor"]) {
        format!(
            "<label for=\"{attr}\">{label}</label>\n<textarea id=\"{attr}\" rows=\"6\"></textarea>"
        )
    } else if has(&w, &["select", "dropdown", "picker"]) {
        format!(
            "<label for=\"{attr}\">{label}</label> <select id=\"{attr}\"><option value=\"\">Choose…</option></select>"
        )
    } else if has(&w, &["chart", "canvas", "graph", "plot"]) {
        format!(
            "<canvas id=\"{attr}\" width=\"640\" height=\"320\" role=\"img\" aria-label=\"{label}\"></canvas>"
        )
    } else if has(&w, &["list", "items"]) {
        format!("<ul id=\"{attr}\" class=\"plain\"></ul>")
    } else if let (true, Some(image)) = (
        has(&w, &["image", "img", "captcha", "photo", "picture", "logo"]),
        first_image,
    ) {
        let query = param
            .or_else(|| context.query_params.first())
            .map(|p| format!(" data-query-image=\"{}\"", escape(p)))
            .unwrap_or_default();
        format!(
            "<img id=\"{attr}\" src=\"{}\" alt=\"{label}\"{query}>",
            href("", image.name.as_str())
        )
    } else if let (true, Some(md)) = (
        has(
            &w,
            &["markdown", "md", "preview", "rendered", "html", "output"],
        ),
        markdown,
    ) {
        let text = clip(std::str::from_utf8(&md.data).unwrap_or_default());
        format!(
            "<div id=\"{attr}\" class=\"rendered\" data-markdown-target=\"{}\"><pre class=\"source\"><code>{}</code></pre></div>",
            escape(md.name.as_str()),
            escape(text)
        )
    } else if let Some(param) = param {
        format!(
            "<output id=\"{attr}\" data-query-param=\"{}\"></output>",
            escape(param)
        )
    } else {
        format!(
            "<output id=\"{attr}\">{}</output>",
            escape(&value(&w, context))
        )
    };
    format!("<div class=\"field\"><span class=\"label\">{label}</span>\n{control}\n</div>\n")
}

/// A value an id asks for that the attachments can answer.
fn value(words: &[String], context: &Context<'_>) -> String {
    let Some(table) = context.tables.first() else {
        return String::new();
    };
    if has(words, &["total", "sum"]) {
        return column_total(table, words).unwrap_or_default();
    }
    if has(words, &["count", "rows", "records"]) {
        return table.rows.len().to_string();
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context<'a>(tables: &'a [Table], params: &'a [String]) -> Context<'a> {
        Context {
            attachments: &[],
            tables,
            query_params: params,
        }
    }

    #[test]
    fn the_id_chooses_the_element() {
        let ctx = context(&[], &[]);
        for (id, expected) in [
            ("contact-form", "<form id=\"contact-form\""),
            (
                "submitBtn",
                "<button id=\"submitBtn\" type=\"button\">Submit btn</button>",
            ),
            ("search-input", "<input id=\"search-input\""),
            ("sales-chart", "<canvas id=\"sales-chart\""),
            ("project-list", "<ul id=\"project-list\""),
            ("status", "<output id=\"status\"></output>"),
        ] {
            let html = element(id, &ctx);
            assert!(html.contains(expected), "{id}: {html}");
        }
    }

    #[test]
    fn totals_and_counts_come_from_the_first_table() {
        let table = Table {
            headers: vec!["item".into(), "sales".into()],
            rows: vec![vec!["a".into(), "10".into()], vec!["b".into(), "50".into()]],
        };
        let tables = [table];
        let ctx = context(&tables, &[]);
        assert!(element("total-sales", &ctx).contains("<output id=\"total-sales\">60</output>"));
        assert!(element("row-count", &ctx).contains("<output id=\"row-count\">2</output>"));
    }

    #[test]
    fn an_id_naming_a_query_parameter_shows_it() {
        let params = ["url".to_owned()];
        let html = element("captcha-url", &context(&[], &params));
        assert!(html.contains("<output id=\"captcha-url\" data-query-param=\"url\"></output>"));
    }
}
