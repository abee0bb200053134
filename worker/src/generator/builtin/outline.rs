//! Reading a brief into a title, a lead and sections.
//!
//! Briefs are prose, Markdown-ish notes or a mix: blank lines separate
//! blocks, `#` lines and short lines ending in `:` head sections, and
//! `-`/`*`/`1.` lines are list items. A single run-on paragraph is split
//! into sentences so the page still has structure.

use super::{
    html::shorten,
    title::{MAX_TITLE, explicit_title, markdown_title, title_from_sentence},
};

/// The page's text structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    pub title: String,
    /// One sentence under the title.
    pub lead: String,
    pub sections: Vec<Section>,
}

/// A titled part of the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub items: Vec<Item>,
}

/// A list item, shown as a card: `Name: what it is` gives a titled card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub title: Option<String>,
    pub text: String,
}

/// Builds the outline. `title` overrides the one read from the brief (a
/// revision keeps its site's title).
pub fn outline(brief: &str, title: Option<&str>) -> Outline {
    let (h1, body) = markdown_title(brief);
    let mut sections = blocks(body);
    let (lead, first_sentence) = take_lead(&mut sections);
    let title = title
        .map(str::to_owned)
        .filter(|t| !t.trim().is_empty())
        .or(h1)
        .or_else(|| explicit_title(brief))
        .unwrap_or_else(|| title_from_sentence(&first_sentence));
    sections.retain(|s| !s.paragraphs.is_empty() || !s.items.is_empty());
    Outline {
        title: shorten(title.trim(), MAX_TITLE),
        lead,
        sections,
    }
}

/// A section made of `text`'s blocks, under `heading` (for a change request).
pub fn section(heading: &str, text: &str) -> Section {
    let mut parts = blocks(text);
    let mut section = Section {
        heading: heading.to_owned(),
        ..Section::default()
    };
    for part in parts.drain(..) {
        if !part.heading.is_empty() {
            section.paragraphs.push(part.heading);
        }
        section.paragraphs.extend(part.paragraphs);
        section.items.extend(part.items);
    }
    section
}

fn blocks(text: &str) -> Vec<Section> {
    let mut sections = vec![Section::default()];
    let mut paragraph = String::new();
    for line in text.lines().map(str::trim) {
        let current = sections.len() - 1;
        if line.is_empty() {
            flush(&mut paragraph, &mut sections[current]);
        } else if let Some(heading) = heading(line) {
            flush(&mut paragraph, &mut sections[current]);
            sections.push(Section {
                heading,
                ..Section::default()
            });
        } else if let Some(item) = bullet(line) {
            flush(&mut paragraph, &mut sections[current]);
            sections[current].items.push(split_item(item));
        } else {
            if !paragraph.is_empty() {
                paragraph.push(' ');
            }
            paragraph.push_str(line);
        }
    }
    let last = sections.len() - 1;
    flush(&mut paragraph, &mut sections[last]);
    sections
}

fn flush(paragraph: &mut String, section: &mut Section) {
    if !paragraph.is_empty() {
        section.paragraphs.push(std::mem::take(paragraph));
    }
}

fn heading(line: &str) -> Option<String> {
    if let Some(rest) = line.strip_prefix('#') {
        let text = rest.trim_start_matches('#').trim();
        return (!text.is_empty()).then(|| text.to_owned());
    }
    let text = line.strip_suffix(':')?.trim();
    let short = text.chars().count() <= 60 && !text.contains(['.', '!', '?']);
    (short && !text.is_empty() && bullet(line).is_none()).then(|| text.to_owned())
}

fn bullet(line: &str) -> Option<&str> {
    for marker in ["- ", "* ", "• ", "+ "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return Some(rest.trim());
        }
    }
    let digits = line.find(|c: char| !c.is_ascii_digit())?;
    let rest = &line[digits..];
    if digits > 0 && digits <= 3 && (rest.starts_with(". ") || rest.starts_with(") ")) {
        return Some(rest[2..].trim());
    }
    None
}

fn split_item(text: &str) -> Item {
    let text = text.trim();
    // `**Name** — text` and `Name: text` name the card.
    if let Some(rest) = text.strip_prefix("**")
        && let Some((name, tail)) = rest.split_once("**")
    {
        let tail = tail.trim_start_matches([':', '-', '–', '—', ' ']);
        return Item {
            title: Some(name.trim().to_owned()),
            text: tail.trim().to_owned(),
        };
    }
    for separator in [": ", " — ", " – ", " - "] {
        if let Some((name, tail)) = text.split_once(separator)
            && (1..=40).contains(&name.chars().count())
            && !tail.trim().is_empty()
        {
            return Item {
                title: Some(name.trim().to_owned()),
                text: tail.trim().to_owned(),
            };
        }
    }
    Item {
        title: None,
        text: text.to_owned(),
    }
}

/// Takes the lead sentence from the first, untitled section: the first
/// sentence that describes the subject (`We bake bread daily.` over
/// `Create a bakery page.`), else the first sentence. Returns it and the brief's first sentence.
/// A long single paragraph left behind is split into sentence cards.
fn take_lead(sections: &mut [Section]) -> (String, String) {
    let Some(first) = sections.first_mut() else {
        return (String::new(), String::new());
    };
    if !first.heading.is_empty() || first.paragraphs.is_empty() {
        return (String::new(), String::new());
    }
    let paragraph = first.paragraphs.remove(0);
    let mut sentences = sentences(&paragraph);
    let first_sentence = sentences[0].clone();
    let lead_at = sentences.iter().position(|s| describes(s)).unwrap_or(0);
    let lead = sentences.remove(lead_at);
    if sentences.len() >= 3 && first.paragraphs.is_empty() {
        first.items.splice(
            0..0,
            sentences.into_iter().map(|text| Item { title: None, text }),
        );
    } else if !sentences.is_empty() {
        first.paragraphs.insert(0, sentences.join(" "));
    }
    first.heading = "Overview".to_owned();
    (lead, first_sentence)
}

/// Whether a sentence speaks about the site's subject (`We…`, `Our…`,
/// `This…`) rather than to the builder.
fn describes(sentence: &str) -> bool {
    const SUBJECTS: &[&str] = &[
        "we", "we're", "our", "i", "i'm", "my", "this", "it", "it's", "they", "their", "he", "she",
        "his", "her",
    ];
    sentence
        .split_whitespace()
        .next()
        .is_some_and(|w| SUBJECTS.contains(&w.to_lowercase().as_str()))
}

/// Splits at `.`, `!` or `?` followed by a space and a capital or digit,
/// so `?url=x` and `3.5` stay whole.
fn sentences(paragraph: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = paragraph.char_indices().collect();
    for w in chars.windows(3) {
        let [(i, end), (_, space), (_, next)] = w else {
            continue;
        };
        if matches!(end, '.' | '!' | '?')
            && space.is_whitespace()
            && (next.is_uppercase() || next.is_ascii_digit() || *next == '"')
        {
            out.push(paragraph[start..=*i].trim().to_owned());
            start = i + end.len_utf8();
        }
    }
    out.push(paragraph[start..].trim().to_owned());
    out.retain(|s| !s.is_empty());
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

#[cfg(test)]
#[path = "outline_tests.rs"]
mod tests;
