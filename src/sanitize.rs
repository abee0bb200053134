//! The script-free "safe view" of generated HTML, written once per bundle
//! (see [`crate::bundle`]) and served as is.
//!
//! Two passes: [`document`] takes out the head (title, viewport and other
//! metadata, stylesheets) and the `<html>`/`<body>` attributes, which a
//! fragment sanitizer would lose; [`body`] runs ammonia, configured to keep
//! layout, classes, ids, styles, forms, media and inline SVG. The page is
//! then rebuilt from what both kept, so nothing reaches the output that
//! either pass did not write or escape itself.

mod allow;
#[cfg(test)]
mod attack_tests;
mod body;
mod document;
#[cfg(test)]
mod tests;
mod text;

/// Escapes `text` for HTML content and quoted attribute values: for text we
/// write into HTML ourselves (generated pages, Telegram's HTML, the pages
/// server's repository page). Telegram's HTML parse mode accepts the same
/// entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Returns `html` without anything that can run: scripts, event handlers,
/// `javascript:`/`vbscript:` URLs and `data:` URLs other than media, frames,
/// objects, embeds, `<base>` and `<meta http-equiv>` (refresh). Keeps the
/// document's structure (`html`/`head`/`body`, title, charset, viewport,
/// stylesheets) and its classes, ids and styles.
pub fn safe_html(html: &str) -> String {
    let doc = document::split(html);
    let body = body::clean(doc.rest());
    doc.render(&body)
}
