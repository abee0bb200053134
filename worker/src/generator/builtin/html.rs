//! What every template shares: [`Text`], how request text goes into
//! markup, [`rich`] for the one piece of formatting briefs use, and small
//! helpers for names, links and ids.
//!
//! The pages are maud templates, so every interpolated value is escaped
//! unless it is wrapped in `PreEscaped`, which only our own constant
//! markup is. The templates also write the line breaks between block
//! elements: the pages stay readable as source, and `/diff` counts
//! changed lines rather than seeing one line change.

use maud::{Markup, Render, html};

use crate::text::escape;
pub use crate::text::shorten;

/// Request text (or anything derived from it) on its way into markup.
///
/// maud escapes `&`, `<`, `>` and `"`; this also writes `'` as `&#39;`,
/// as [`escape`] does everywhere else, so such text is inert in any
/// attribute, quoted either way, and reads the same in every page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<S>(pub S);

impl<S: AsRef<str>> Render for Text<S> {
    fn render_to(&self, buffer: &mut String) {
        buffer.push_str(&escape(self.0.as_ref()));
    }
}

/// Text with its `backticked` spans as `<code>`, the one piece of
/// formatting briefs commonly use. Unpaired backticks stay as they are.
pub fn rich(text: &str) -> Markup {
    let parts: Vec<&str> = text.split('`').collect();
    // An odd number of parts means every backtick has a partner.
    let paired = parts.len() >= 3 && !parts.len().is_multiple_of(2);
    html! {
        @if paired {
            @for (i, part) in parts.iter().enumerate() {
                @if i % 2 == 1 {
                    code { (Text(part)) }
                } @else {
                    (Text(part))
                }
            }
        } @else {
            (Text(text))
        }
    }
}

/// A relative link to a site file, with spaces percent-encoded; it renders
/// escaped. `prefix` is the way back to the site root (`../` for a page
/// one folder down).
pub fn href(prefix: &str, path: &str) -> Text<String> {
    Text(format!("{prefix}{}", path.replace(' ', "%20")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            Text(r#"<script>alert("x")</script> & 'y'"#)
                .render()
                .into_string(),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn backticks_become_code_only_in_pairs_and_stay_escaped() {
        let rich = |text| rich(text).into_string();
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
            href("../", "data/sales 2024.csv").render().into_string(),
            "../data/sales%202024.csv"
        );
    }
}
