//! The document pass over a generated page: takes out what a fragment
//! sanitizer would drop but a page needs — the `<head>` metadata and
//! stylesheets, the `<html>` and `<body>` attributes — and leaves the rest of
//! the markup for [`super::body`].
//!
//! lol_html tokenizes as a browser does, but here its reading only decides
//! what moves to `<head>`: everything kept is decoded and escaped again (CSS
//! gets every `<` escaped), so a disagreement with the browser's parser can
//! cost fidelity, never let markup through.

use std::{cell::RefCell, rc::Rc};

use lol_html::{
    RewriteStrSettings, element,
    html_content::{Element, TextType},
    rewrite_str, text,
};

use super::{
    body::keep_attribute,
    text::{attribute_of, decoded, text_of},
};

const HTML_NS: &str = "http://www.w3.org/1999/xhtml";

/// `<meta name>`s worth keeping; `http-equiv` (refresh, cookies, CSP) never is.
const META_NAMES: &[&str] = &[
    "viewport",
    "description",
    "author",
    "keywords",
    "theme-color",
    "color-scheme",
];

/// `<body>` attributes kept.
const BODY_ATTRIBUTES: &[&str] = &["class", "id", "style", "lang", "dir"];

/// A page taken apart.
#[derive(Debug, Default)]
pub(super) struct Document {
    /// `<html lang>`, when it is a plausible language tag.
    lang: Option<String>,
    /// `<html dir>`.
    dir: Option<&'static str>,
    /// `<body>` attributes, escaped for a double-quoted value.
    body_attributes: Vec<(&'static str, String)>,
    /// The first `<title>`'s raw text, while it is read; then escaped.
    title: Option<String>,
    /// Kept `<meta>` names and their escaped content.
    metas: Vec<(&'static str, String)>,
    /// Stylesheets and icons in document order.
    head: Vec<HeadItem>,
    /// The markup without what was taken out.
    rest: String,
}

#[derive(Debug)]
enum HeadItem {
    /// A rendered `<link>`.
    Link(String),
    /// The raw CSS of a `<style>`.
    Style(String),
}

/// Where the text of the `<title>` or `<style>` being read goes.
#[derive(Debug, Default)]
struct Reading {
    doc: Document,
    title: Capture,
    style: Capture,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Capture {
    #[default]
    Off,
    Keep,
    Drop,
}

/// Takes `html` apart. Never fails: if the rewriter gives up, the whole
/// input is left for the body sanitizer and the head stays minimal.
pub(super) fn split(html: &str) -> Document {
    let state = Rc::new(RefCell::new(Reading::default()));
    let handlers = vec![
        element!("html", |el| {
            on_html(&mut state.borrow_mut().doc, el);
            Ok(())
        }),
        element!("body", |el| {
            on_body(&mut state.borrow_mut().doc, el);
            Ok(())
        }),
        element!("title", |el| {
            let mut s = state.borrow_mut();
            s.title = if el.namespace_uri() != HTML_NS {
                Capture::Off
            } else if s.doc.title.is_none() {
                s.doc.title = Some(String::new());
                Capture::Keep
            } else {
                Capture::Drop
            };
            if s.title != Capture::Off {
                el.remove_and_keep_content();
            }
            Ok(())
        }),
        text!("title", |chunk| {
            let mut s = state.borrow_mut();
            if chunk.text_type() == TextType::RCData && s.title != Capture::Off {
                if s.title == Capture::Keep {
                    s.doc.title.get_or_insert_default().push_str(chunk.as_str());
                }
                chunk.remove();
            }
            Ok(())
        }),
        element!("style", |el| {
            let mut s = state.borrow_mut();
            s.style = if el.namespace_uri() == HTML_NS {
                s.doc.head.push(HeadItem::Style(String::new()));
                el.remove_and_keep_content();
                Capture::Keep
            } else {
                // SVG's <style> holds markup, not raw text: the body
                // sanitizer drops it with its content.
                Capture::Off
            };
            Ok(())
        }),
        text!("style", |chunk| {
            let mut s = state.borrow_mut();
            if chunk.text_type() == TextType::RawText && s.style == Capture::Keep {
                if let Some(HeadItem::Style(css)) = s.doc.head.last_mut() {
                    css.push_str(chunk.as_str());
                }
                chunk.remove();
            }
            Ok(())
        }),
        element!("meta", |el| {
            if el.namespace_uri() == HTML_NS {
                on_meta(&mut state.borrow_mut().doc, el);
                el.remove();
            }
            Ok(())
        }),
        element!("link", |el| {
            if el.namespace_uri() == HTML_NS {
                on_link(&mut state.borrow_mut().doc, el);
                el.remove();
            }
            Ok(())
        }),
    ];
    let settings = handlers.into_iter().fold(
        RewriteStrSettings::new(),
        RewriteStrSettings::append_element_content_handler,
    );
    let rewritten = rewrite_str(html, settings);
    let mut doc = std::mem::take(&mut state.borrow_mut().doc);
    match rewritten {
        Ok(rest) => {
            doc.rest = rest;
            doc.title = doc.title.as_deref().map(text_of);
            doc
        }
        Err(error) => {
            tracing::warn!(%error, "document pass failed; sanitizing the page as one fragment");
            Document {
                rest: html.to_owned(),
                ..Document::default()
            }
        }
    }
}

fn on_html(doc: &mut Document, el: &Element<'_, '_>) {
    if let Some(lang) = el.get_attribute("lang").map(|raw| decoded(&raw))
        && !lang.is_empty()
        && lang.len() <= 35
        && lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        doc.lang.get_or_insert(lang);
    }
    if doc.dir.is_none() {
        doc.dir = el.get_attribute("dir").and_then(|raw| direction(&raw));
    }
}

fn on_body(doc: &mut Document, el: &Element<'_, '_>) {
    if !doc.body_attributes.is_empty() {
        return;
    }
    for name in BODY_ATTRIBUTES {
        if let Some(raw) = el.get_attribute(name)
            && keep_attribute("body", name, &decoded(&raw))
        {
            doc.body_attributes.push((name, attribute_of(&raw)));
        }
    }
}

fn on_meta(doc: &mut Document, el: &Element<'_, '_>) {
    let Some(name) = el.get_attribute("name").map(|raw| decoded(&raw)) else {
        return;
    };
    let Some(name) = META_NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name.trim()))
    else {
        return;
    };
    if let Some(content) = el.get_attribute("content")
        && keep_attribute("meta", "content", &decoded(&content))
    {
        doc.metas.push((name, attribute_of(&content)));
    }
}

fn on_link(doc: &mut Document, el: &Element<'_, '_>) {
    let rel = el
        .get_attribute("rel")
        .map(|r| decoded(&r))
        .unwrap_or_default();
    let rel: Vec<String> = rel
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let kind = if rel.iter().any(|r| r == "stylesheet") && !rel.iter().any(|r| r == "alternate") {
        "stylesheet"
    } else if rel.iter().any(|r| r == "icon") {
        "icon"
    } else {
        return;
    };
    let Some(href) = el.get_attribute("href") else {
        return;
    };
    if !is_fetchable(&decoded(&href)) {
        return;
    }
    let mut link = format!(r#"<link rel="{kind}" href="{}""#, attribute_of(&href));
    for name in ["media", "type", "sizes", "integrity", "crossorigin"] {
        if let Some(raw) = el.get_attribute(name)
            && keep_attribute("link", name, &decoded(&raw))
        {
            link.push_str(&format!(r#" {name}="{}""#, attribute_of(&raw)));
        }
    }
    link.push('>');
    doc.head.push(HeadItem::Link(link));
}

/// An http(s) or relative URL.
fn is_fetchable(href: &str) -> bool {
    match url::Url::parse(href.trim()) {
        Ok(url) => matches!(url.scheme(), "http" | "https"),
        Err(url::ParseError::RelativeUrlWithoutBase) => keep_attribute("link", "href", href),
        Err(_) => false,
    }
}

fn direction(raw: &str) -> Option<&'static str> {
    match decoded(raw).trim().to_ascii_lowercase().as_str() {
        "ltr" => Some("ltr"),
        "rtl" => Some("rtl"),
        "auto" => Some("auto"),
        _ => None,
    }
}

impl Document {
    /// The safe page: a fresh `<head>` from what was kept, and `body`
    /// (already sanitized) inside a `<body>` with the kept attributes.
    pub(super) fn render(&self, body: &str) -> String {
        let mut out = String::with_capacity(body.len() + 512);
        out.push_str("<!DOCTYPE html>\n<html");
        if let Some(lang) = &self.lang {
            out.push_str(&format!(r#" lang="{lang}""#));
        }
        if let Some(dir) = self.dir {
            out.push_str(&format!(r#" dir="{dir}""#));
        }
        out.push_str(">\n<head>\n<meta charset=\"utf-8\">\n");
        for (name, content) in &self.metas {
            out.push_str(&format!("<meta name=\"{name}\" content=\"{content}\">\n"));
        }
        if let Some(title) = &self.title {
            out.push_str(&format!("<title>{title}</title>\n"));
        }
        for item in &self.head {
            match item {
                HeadItem::Link(link) => out.push_str(link),
                // `\3c ` is CSS for `<`: the same inside strings, and no tag
                // (`</style>`, `<script>`) can be spelled.
                HeadItem::Style(css) => {
                    out.push_str(&format!("<style>{}</style>", css.replace('<', "\\3c ")));
                }
            }
            out.push('\n');
        }
        out.push_str("</head>\n<body");
        for (name, value) in &self.body_attributes {
            out.push_str(&format!(r#" {name}="{value}""#));
        }
        out.push_str(">\n");
        out.push_str(body);
        out.push_str("\n</body>\n</html>\n");
        out
    }

    /// The markup left for the body sanitizer.
    pub(super) fn rest(&self) -> &str {
        &self.rest
    }
}
