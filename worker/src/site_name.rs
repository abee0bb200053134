//! A site's short name: what messages, /status, /history and the repository
//! slug call it. It comes from the LLM's answer (`"name"`), else from the
//! brief (a quoted name, `called X`, `titled "X"`), else from the page's own
//! `<title>`; never from the prompt cut off mid-sentence.

use std::sync::LazyLock;

use regex::Regex;

use crate::{
    generator::{
        GeneratedFile,
        builtin::title::{explicit_title, markdown_title},
    },
    text::shorten,
};

/// The longest name kept, in characters (ellipsis included).
pub const MAX_NAME: usize = 40;

static TITLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<title[^>]*>(.*?)</title>").expect("valid regex"));

/// `raw` as a name: whitespace folded, quotes trimmed, at most
/// [`MAX_NAME`] characters; `None` when nothing usable is left.
pub fn clean(raw: &str) -> Option<String> {
    let folded = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = folded.trim_matches(|c: char| "\"'“”‘’`«»".contains(c) || c.is_whitespace());
    let looks_like_code = name.contains(['<', '>', '{', '}']);
    if name.chars().count() < 2 || looks_like_code {
        return None;
    }
    Some(shorten(name, MAX_NAME - 1))
}

/// A name the brief gives the site: `# Crumb & Co`, `called Crumb & Co`,
/// `titled "Tide Tally"`.
pub fn from_brief(brief: &str) -> Option<String> {
    markdown_title(brief)
        .0
        .or_else(|| explicit_title(brief))
        .and_then(|t| clean(&t))
}

/// The `<title>` of the site's front page.
pub fn from_page(files: &[GeneratedFile]) -> Option<String> {
    let index = files.iter().find(|f| f.path == "index.html")?;
    clean(&page_title(&index.content)?)
}

/// The text of a page's `<title>`, unescaped and trimmed.
pub fn page_title(html: &str) -> Option<String> {
    let title = TITLE.captures(html)?.get(1)?.as_str();
    let title = decode_entities(title);
    let title = title.trim();
    (!title.is_empty()).then(|| title.to_owned())
}

/// The name for a site: the generator's, else the brief's, else the page's.
pub fn choose(generated: Option<&str>, brief: &str, files: &[GeneratedFile]) -> Option<String> {
    generated
        .and_then(clean)
        .or_else(|| from_brief(brief))
        .or_else(|| from_page(files))
}

/// The few entities a `<title>` commonly carries; `&amp;` last, so
/// `&amp;lt;` reads `&lt;`.
fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(title: &str) -> Vec<GeneratedFile> {
        vec![GeneratedFile {
            path: "index.html".into(),
            content: format!("<!DOCTYPE html><html><head><TITLE>{title}</TITLE></head></html>"),
        }]
    }

    #[test]
    fn the_generators_name_comes_first_then_the_briefs_then_the_pages() {
        let brief = "A one-page site for a bakery called Crumb & Co with opening hours and a menu";
        assert_eq!(
            choose(Some(" “Crumb and Company” "), brief, &page("Home")).as_deref(),
            Some("Crumb and Company")
        );
        assert_eq!(
            choose(None, brief, &page("Home")).as_deref(),
            Some("Crumb & Co")
        );
        assert_eq!(
            choose(None, "a page about tides", &page("Tide &amp; Tally")).as_deref(),
            Some("Tide & Tally")
        );
        assert_eq!(choose(Some(""), "hello there", &[]), None);
    }

    #[test]
    fn names_are_short_and_never_markup() {
        let long = "The Most Wonderful Neighbourhood Bakery In The Whole Wide World";
        let name = clean(long).unwrap();
        assert!(name.chars().count() <= MAX_NAME, "{name}");
        assert!(name.ends_with('…'));
        assert_eq!(clean("<b>x</b>"), None);
        assert_eq!(clean("  a  "), None);
        assert_eq!(clean("Tide\n  Tally"), Some("Tide Tally".into()));
        assert_eq!(
            page_title("<title> a &amp;lt;b&gt; </title>").as_deref(),
            Some("a &lt;b>")
        );
    }

    #[test]
    fn a_brief_names_its_site_in_several_ways() {
        assert_eq!(
            from_brief("# Crumb & Co\nA bakery").as_deref(),
            Some("Crumb & Co")
        );
        assert_eq!(
            from_brief("Sets the title to \"Sales Summary 4c2d9\" and shows a total").as_deref(),
            Some("Sales Summary 4c2d9")
        );
        assert_eq!(from_brief("a site for my bakery"), None);
    }
}
