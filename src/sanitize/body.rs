//! The body of the safe view: ammonia, configured to keep what a generated
//! page looks like (layout, classes, ids, inline styles, forms, media,
//! inline SVG icons) and nothing that runs.

use std::{borrow::Cow, collections::HashSet, sync::LazyLock};

use ammonia::{Builder, UrlRelative};

use super::allow::{
    DROPPED_WITH_CONTENT, EXTRA_TAGS, GENERIC_ATTRIBUTES, SVG_ATTRIBUTES, SVG_TAGS, TAG_ATTRIBUTES,
};

static BODY: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut builder = Builder::default();
    builder
        .add_tags(EXTRA_TAGS)
        .add_tags(SVG_TAGS)
        .rm_clean_content_tags(["script", "style"])
        .add_clean_content_tags(DROPPED_WITH_CONTENT)
        .add_generic_attributes(GENERIC_ATTRIBUTES)
        .add_generic_attribute_prefixes(["data-", "aria-"])
        // `data:` passes the scheme check only to meet `keep_attribute`,
        // which lets it through on media `src` alone.
        .add_url_schemes(["data"])
        // Links between the site's own pages must keep working.
        .url_relative(UrlRelative::PassThrough)
        .attribute_filter(|element, attribute, value| {
            keep_attribute(element, attribute, value).then_some(Cow::Borrowed(value))
        });
    for (tag, attributes) in TAG_ATTRIBUTES {
        builder.add_tag_attributes(*tag, *attributes);
    }
    for tag in SVG_TAGS {
        builder.add_tag_attributes(*tag, SVG_ATTRIBUTES);
    }
    builder
});

/// Element and text content that ammonia leaves: no scripts, handlers,
/// frames, objects, `<base>`, `<meta>`, comments, or dangerous URLs.
pub(super) fn clean(fragment: &str) -> String {
    BODY.clean(fragment).to_string()
}

/// URL schemes that run code or render a document of the attacker's.
const SCRIPT_SCHEMES: &[&str] = &["javascript:", "vbscript:", "livescript:", "mocha:"];

/// The last word on an attribute ammonia's allow-list let through; also
/// applied to the `<body>`, `<link>` and `<meta>` attributes the document
/// pass keeps. `value` is decoded (entities resolved).
pub(super) fn keep_attribute(element: &str, attribute: &str, value: &str) -> bool {
    let normalized = normalize(value);
    if SCRIPT_SCHEMES.iter().any(|s| normalized.starts_with(s)) {
        return false;
    }
    if normalized.starts_with("data:") {
        return attribute == "src" && is_media_data_url(element, &normalized);
    }
    match attribute {
        // Browsers no longer run code from CSS, but an old one might, and
        // the safe view promises none at all.
        "style" => ![
            "javascript:",
            "vbscript:",
            "expression(",
            "-moz-binding",
            "behavior:",
        ]
        .iter()
        .any(|bad| normalized.contains(bad)),
        "srcset" => srcset_is_safe(&normalized),
        _ => true,
    }
}

/// Lower case, without the whitespace and control characters browsers skip
/// inside a scheme (`java\tscript:`).
fn normalize(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .flat_map(char::to_lowercase)
        .collect()
}

/// An image, audio or video `data:` URL on an element that only renders
/// media (never a document: `data:text/html`, or SVG in a frame).
fn is_media_data_url(element: &str, normalized: &str) -> bool {
    let media = normalized.trim_start_matches("data:");
    match element {
        "img" => media.starts_with("image/"),
        "source" => ["image/", "audio/", "video/"]
            .iter()
            .any(|m| media.starts_with(m)),
        "audio" => media.starts_with("audio/"),
        "video" => media.starts_with("video/"),
        _ => false,
    }
}

/// Every candidate of a `srcset` is an http(s) or relative URL.
fn srcset_is_safe(normalized: &str) -> bool {
    let schemes: HashSet<&str> = ["http", "https"].into();
    !normalized.contains("data:")
        && normalized.split(',').all(|candidate| {
            match candidate.split_once(':') {
                // Text before the first colon names a scheme if it could be
                // one; otherwise the URL is relative.
                Some((scheme, _))
                    if scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
                {
                    schemes.contains(scheme)
                }
                _ => true,
            }
        })
}
