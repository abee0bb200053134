//! An element for each id the brief or the checks name, chosen by what the
//! id says it is (`#total-sales` is a value, `#search-input` an input,
//! `#sales-chart` a canvas), with a label, and with real content where the
//! attachments provide it (a CSV column's total, a Markdown file's text).

use maud::{Markup, Render, html};

use super::{
    attachments::{Kind, Table, clip, column_total, kind},
    html::{Text, href, humanize},
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

/// What an id asks to be, chosen by its words and what the attachments
/// offer.
enum Control<'a> {
    Form,
    Button,
    Input,
    Textarea,
    Select,
    Canvas,
    List,
    /// The first image attachment, swapped for the image at `query`'s URL
    /// by script.js when the page is given one.
    Image {
        src: &'a str,
        query: Option<&'a str>,
    },
    /// A Markdown attachment's source, rendered in place by script.js
    /// when a Markdown library is loaded.
    Markdown {
        name: &'a str,
        source: &'a str,
    },
    /// The value of a query parameter, filled in by script.js.
    Param(&'a str),
    /// A value the attachments answer (see [`value`]), or nothing.
    Value(String),
}

/// The element for a requested id, as a labelled row of the "At a glance"
/// section.
pub struct Element<'a> {
    id: &'a str,
    label: String,
    control: Control<'a>,
}

impl<'a> Element<'a> {
    pub fn new(id: &'a str, context: &Context<'a>) -> Self {
        let w = words(id);
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
            Control::Form
        } else if has(&w, &["button", "btn", "submit", "toggle"]) {
            Control::Button
        } else if has(&w, &["input", "search", "query", "field", "textbox"]) {
            Control::Input
        } else if has(&w, &["textarea", "editor"]) {
            Control::Textarea
        } else if has(&w, &["select", "dropdown", "picker"]) {
            Control::Select
        } else if has(&w, &["chart", "canvas", "graph", "plot"]) {
            Control::Canvas
        } else if has(&w, &["list", "items"]) {
            Control::List
        } else if let (true, Some(image)) = (
            has(&w, &["image", "img", "captcha", "photo", "picture", "logo"]),
            first_image,
        ) {
            Control::Image {
                src: image.name.as_str(),
                query: param
                    .or_else(|| context.query_params.first())
                    .map(String::as_str),
            }
        } else if let (true, Some(md)) = (
            has(
                &w,
                &["markdown", "md", "preview", "rendered", "html", "output"],
            ),
            markdown,
        ) {
            Control::Markdown {
                name: md.name.as_str(),
                source: clip(std::str::from_utf8(&md.data).unwrap_or_default()),
            }
        } else if let Some(param) = param {
            Control::Param(param)
        } else {
            Control::Value(value(&w, context))
        };
        Self {
            id,
            label: humanize(id),
            control,
        }
    }

    /// The query parameter whose value this element shows, if any.
    pub fn query_param(&self) -> Option<&'a str> {
        match self.control {
            Control::Param(param) => Some(param),
            _ => None,
        }
    }
}

impl Render for Element<'_> {
    fn render(&self) -> Markup {
        let id = Text(self.id);
        let label = Text(&self.label);
        let control = html! {
            @match &self.control {
                Control::Form => {
                    form id=(id) class="stack" method="get" {
                        "\n"
                        label { "Your message " input name="message" autocomplete="off"; } "\n"
                        button type="submit" { "Send" } "\n"
                    }
                }
                Control::Button => { button id=(id) type="button" { (label) } }
                Control::Input => {
                    label for=(id) { (label) } " "
                    input id=(id) type="text" placeholder=(label);
                }
                Control::Textarea => {
                    label for=(id) { (label) } "\n"
                    textarea id=(id) rows="6" {}
                }
                Control::Select => {
                    label for=(id) { (label) } " "
                    select id=(id) { option value="" { "Choose…" } }
                }
                Control::Canvas => {
                    canvas id=(id) width="640" height="320" role="img" aria-label=(label) {}
                }
                Control::List => { ul id=(id) class="plain" {} }
                Control::Image { src, query } => {
                    img id=(id) src=(href("", src)) alt=(label) data-query-image=[query.map(Text)];
                }
                Control::Markdown { name, source } => {
                    div id=(id) class="rendered" data-markdown-target=(Text(name)) {
                        pre class="source" { code { (Text(source)) } }
                    }
                }
                Control::Param(param) => { output id=(id) data-query-param=(Text(param)) {} }
                Control::Value(value) => { output id=(id) { (Text(value)) } }
            }
        };
        field(label, control)
    }
}

/// A labelled row of the "At a glance" section.
pub fn field(label: impl Render, control: impl Render) -> Markup {
    html! {
        div class="field" {
            span class="label" { (label) } "\n"
            (control) "\n"
        }
        "\n"
    }
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

    fn element(id: &str, context: &Context<'_>) -> String {
        Element::new(id, context).render().into_string()
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
