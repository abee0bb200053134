//! Reading text and attribute values as a browser does, and escaping them
//! again, for what the document pass copies into the new `<head>`.

use std::sync::LazyLock;

use ammonia::Builder;

/// Parses nothing but text: character references resolved, tags dropped.
static PLAIN: LazyLock<Builder<'static>> = LazyLock::new(Builder::empty);

/// The text a browser reads from `raw` (markup with character references),
/// escaped for use as text.
pub(super) fn text_of(raw: &str) -> String {
    PLAIN.clean(raw).to_string()
}

/// The same, escaped for a double-quoted attribute value.
pub(super) fn attribute_of(raw: &str) -> String {
    text_of(raw).replace('"', "&quot;")
}

/// The text a browser reads from `raw`, unescaped.
pub(super) fn decoded(raw: &str) -> String {
    // The serializer writes exactly these references; `&amp;` goes last so
    // that `&amp;lt;` becomes `&lt;`, not `<`.
    text_of(raw)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}
