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
