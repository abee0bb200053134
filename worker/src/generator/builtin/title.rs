//! Finding a site's title in its brief: an explicit name (`called X`,
//! `titled "X"`, a `# X` heading), else the first sentence made into a
//! heading.

use super::html::{capitalize, shorten};

/// The longest title kept.
pub const MAX_TITLE: usize = 70;
const FALLBACK_TITLE: &str = "Welcome";

/// Verbs that start an instruction to us rather than a line for the page.
const VERBS: &[&str] = &[
    "create",
    "build",
    "make",
    "design",
    "publish",
    "generate",
    "write",
    "develop",
    "deploy",
    "produce",
    "set",
    "please",
    "add",
    "use",
    "include",
    "render",
    "show",
    "display",
    "load",
    "handle",
    "implement",
    "ensure",
    "put",
    "fetch",
    "read",
    "convert",
];

/// A leading `# Title` line, and the rest of the brief.
pub fn markdown_title(brief: &str) -> (Option<String>, &str) {
    let trimmed = brief.trim_start();
    let (first, rest) = trimmed.split_once('\n').unwrap_or((trimmed, ""));
    match first.strip_prefix("# ").map(str::trim) {
        Some(title) if !title.is_empty() => (Some(title.to_owned()), rest),
        _ => (None, brief),
    }
}

/// `titled "X"`, `called X`, `named "X"`, `title: X`, `the title to "X"`.
pub fn explicit_title(brief: &str) -> Option<String> {
    // ASCII lower-casing keeps byte offsets valid in `brief`.
    let lower = brief.to_ascii_lowercase();
    for marker in [
        "titled ",
        "called ",
        "named ",
        "title: ",
        "title to ",
        "title as ",
        "title ",
    ] {
        for (i, _) in lower.match_indices(marker) {
            let before = lower[..i].chars().next_back();
            if before.is_some_and(char::is_alphanumeric) {
                continue;
            }
            if let Some(title) = title_after(&brief[i + marker.len()..]) {
                return Some(title);
            }
        }
    }
    None
}

fn title_after(text: &str) -> Option<String> {
    let text = text.trim_start();
    let mut chars = text.chars();
    let open = chars.next()?;
    let close = match open {
        '"' => '"',
        '\'' => '\'',
        '“' => '”',
        '‘' => '’',
        '`' => '`',
        '«' => '»',
        _ => return unquoted_title(text),
    };
    let inner = &text[open.len_utf8()..];
    let title = inner[..inner.find(close)?].trim();
    plausible_title(title).then(|| title.to_owned())
}

/// Capitalized words up to punctuation or a joining word: `called Sunrise
/// Bakery that sells` → `Sunrise Bakery`.
fn unquoted_title(text: &str) -> Option<String> {
    if !text.starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit()) {
        return None;
    }
    let end = text
        .find(['.', ',', ';', ':', '!', '?', '\n', '('])
        .unwrap_or(text.len());
    let mut words = Vec::new();
    for word in text[..end].split_whitespace().take(8) {
        if ["that", "which", "with", "and", "for", "where", "to"].contains(&word) {
            break;
        }
        words.push(word);
    }
    let title = words.join(" ");
    plausible_title(&title).then_some(title)
}

fn plausible_title(title: &str) -> bool {
    let looks_like_code =
        title.contains(['#', '<', '>', '=', '(', '/', '{']) || title.ends_with(".html");
    (2..=MAX_TITLE).contains(&title.chars().count()) && !looks_like_code
}

/// `Create a landing page for a bakery.` → `Landing page for a bakery`.
pub fn title_from_sentence(lead: &str) -> String {
    let mut words: Vec<&str> = lead.split_whitespace().collect();
    while words
        .first()
        .is_some_and(|w| VERBS.contains(&w.to_lowercase().as_str()) || *w == "up")
    {
        words.remove(0);
    }
    if words
        .first()
        .is_some_and(|w| ["a", "an", "the", "me"].contains(&w.to_lowercase().as_str()))
    {
        words.remove(0);
    }
    let text = words.join(" ");
    let text = text.trim_end_matches(['.', '!', '?', ':']);
    let text = text.split_once(". ").map_or(text, |(first, _)| first);
    if text.is_empty() {
        FALLBACK_TITLE.to_owned()
    } else {
        capitalize(&shorten(text, 50))
    }
}
