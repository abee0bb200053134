//! Escaping and small text helpers. Everything from the request is
//! untrusted and goes through [`escape`] (or [`rich`]) on its way into HTML.

use std::fmt::Write as _;

pub use crate::text::escape;

/// Escapes text and shows `backticked` spans as `<code>`, the one piece of
/// formatting briefs commonly use. Unpaired backticks stay as they are.
pub fn rich(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    // An odd number of parts means every backtick has a partner.
    if parts.len() < 3 || parts.len().is_multiple_of(2) {
        return escape(text);
    }
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(part));
        } else {
            out.push_str(&escape(part));
        }
    }
    out
}

/// A relative link to a site file, safe inside a quoted attribute: spaces
/// are percent-encoded, everything else HTML-escaped. `prefix` is the way
/// back to the site root (`../` for a page one folder down).
pub fn href(prefix: &str, path: &str) -> String {
    escape(&format!("{prefix}{}", path.replace(' ', "%20")))
}

/// `total-sales` → `Total sales`, `sample_image.png` → `Sample image`.
pub fn humanize(name: &str) -> String {
    let stem = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.len() <= 5 => stem,
        _ => name,
    };
    let stem = stem.rsplit('/').next().unwrap_or(stem);
    let mut words = String::new();
    let mut previous_lower = false;
    for c in stem.chars() {
        if matches!(c, '-' | '_' | '.' | ' ') {
            words.push(' ');
            previous_lower = false;
        } else {
            // camelCase boundaries become spaces too.
            if c.is_uppercase() && previous_lower {
                words.push(' ');
            }
            previous_lower = c.is_lowercase() || c.is_ascii_digit();
            words.extend(c.to_lowercase());
        }
    }
    capitalize(&words.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Upper-cases the first character.
pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A lower-case ASCII slug for an element id: `Our Menu!` → `our-menu`.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("section-{out}").trim_end_matches('-').to_owned()
    } else {
        out.to_owned()
    }
}

pub use crate::text::shorten;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn backticks_become_code_only_in_pairs_and_stay_escaped() {
        assert_eq!(rich("use `<b>` here"), "use <code>&lt;b&gt;</code> here");
        assert_eq!(rich("a ` b"), "a ` b");
        assert_eq!(rich("`a` and `b"), "`a` and `b");
    }

    #[test]
    fn names_are_humanized_and_slugged() {
        assert_eq!(humanize("total-sales"), "Total sales");
        assert_eq!(humanize("img/sample_image.png"), "Sample image");
        assert_eq!(humanize("markdownOutput"), "Markdown output");
        assert_eq!(slug("Our Menu!"), "our-menu");
        assert_eq!(slug("2024 plans"), "section-2024-plans");
        assert_eq!(slug("!!!"), "section");
        assert_eq!(
            href("../", "data/sales 2024.csv"),
            "../data/sales%202024.csv"
        );
    }
}
