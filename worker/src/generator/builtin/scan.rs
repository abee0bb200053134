//! What the brief, the checks and any repair problems name: element ids,
//! file names, query parameters and well-known libraries. The site is built
//! so each of these exists.

use pagesmith::domain::{SitePath, file_type};

/// Things the text asks the site to have, each once, in first-mention order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Element ids: `#total-sales`, `id="x"`, `getElementById('x')`, ``id `x` ``.
    pub ids: Vec<String>,
    /// Files the site should contain, normalized by [`SitePath::parse`].
    pub files: Vec<String>,
    /// Query parameters the page reads: `?url=`.
    pub query_params: Vec<String>,
    /// Libraries to load from a CDN.
    pub libraries: Vec<&'static Library>,
}

/// A library a brief may ask for by name.
#[derive(Debug, PartialEq, Eq)]
pub struct Library {
    pub name: &'static str,
    /// Lower-case phrases that name it.
    spotted_by: &'static [&'static str],
    pub script: Option<&'static str>,
    pub stylesheet: Option<&'static str>,
}

/// The libraries worth loading when named. Pinned to a major version so a
/// release cannot change the page under a check.
pub const LIBRARIES: &[Library] = &[
    Library {
        name: "marked",
        spotted_by: &["marked"],
        script: Some("https://cdn.jsdelivr.net/npm/marked@12/marked.min.js"),
        stylesheet: None,
    },
    Library {
        name: "highlight.js",
        spotted_by: &["highlight.js", "highlightjs", "hljs"],
        script: Some(
            "https://cdn.jsdelivr.net/gh/highlightjs/cdn-release@11/build/highlight.min.js",
        ),
        stylesheet: Some(
            "https://cdn.jsdelivr.net/gh/highlightjs/cdn-release@11/build/styles/github.min.css",
        ),
    },
    Library {
        name: "Bootstrap",
        spotted_by: &["bootstrap"],
        script: None,
        stylesheet: Some("https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/css/bootstrap.min.css"),
    },
    Library {
        name: "Chart.js",
        spotted_by: &["chart.js", "chartjs"],
        script: Some("https://cdn.jsdelivr.net/npm/chart.js@4/dist/chart.umd.min.js"),
        stylesheet: None,
    },
];

/// `X.js` names that are libraries or runtimes, not files to write.
const NOT_FILES: &[&str] = &[
    "marked.js",
    "highlight.js",
    "chart.js",
    "three.js",
    "d3.js",
    "node.js",
    "vue.js",
    "next.js",
    "nuxt.js",
    "react.js",
    "express.js",
    "p5.js",
    "anime.js",
    "moment.js",
    "leaflet.js",
    "alpine.js",
    "angular.js",
    "ember.js",
    "backbone.js",
    "pdf.js",
    "tesseract.js",
    "deno.js",
    "socket.io.js",
    "tone.js",
    "matter.js",
    "pixi.js",
    "phaser.js",
    "paper.js",
    "fabric.js",
    "math.js",
    "tailwind.css",
    "bootstrap.css",
    "bootstrap.min.css",
    "jquery.js",
];

/// File types the built-in generator can write when a text names them.
const CREATABLE: &[&str] = &[
    "html",
    "htm",
    "css",
    "js",
    "mjs",
    "json",
    "md",
    "txt",
    "csv",
    "svg",
    "xml",
    "webmanifest",
];

/// Scans each text for mentions.
pub fn scan<'a>(texts: impl IntoIterator<Item = &'a str>) -> Mentions {
    let mut found = Mentions::default();
    for text in texts {
        for id in ids(text) {
            push_unique(&mut found.ids, id);
        }
        for file in files(text) {
            push_unique(&mut found.files, file);
        }
        for param in query_params(text) {
            push_unique(&mut found.query_params, param);
        }
        let lower = text.to_lowercase();
        for library in LIBRARIES {
            let named = library.spotted_by.iter().any(|p| contains_word(&lower, p));
            if named && !found.libraries.contains(&library) {
                found.libraries.push(library);
            }
        }
    }
    found
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn contains_word(haystack: &str, word: &str) -> bool {
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The identifier at the start of `text`: a letter, then letters, digits,
/// `-` or `_`.
fn identifier(text: &str) -> Option<&str> {
    if !text.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(text.len());
    let id = text[..end].trim_end_matches('-');
    (id.len() <= 64).then_some(id)
}

fn is_hex_colour(id: &str) -> bool {
    matches!(id.len(), 3 | 4 | 6 | 8) && id.chars().all(|c| c.is_ascii_hexdigit())
}

fn ids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `#name`, except in URLs (`/#top`), entities (`&#39;`) and colours.
    for (i, _) in text.match_indices('#') {
        let before = text[..i].chars().next_back();
        if matches!(before, Some('/' | '&' | '#')) {
            continue;
        }
        if let Some(id) = identifier(&text[i + 1..]).filter(|id| !is_hex_colour(id)) {
            out.push((i, id.to_owned()));
        }
    }
    // `id="x"`, `getElementById('x')`, ``id `x` ``, `ID: "x"`.
    let lower = text.to_ascii_lowercase();
    for marker in ["id=", "getelementbyid(", "id ", "id: "] {
        for (i, _) in lower.match_indices(marker) {
            let before = lower[..i].chars().next_back();
            let joined = marker.starts_with("id")
                && before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
            if joined {
                continue;
            }
            let rest = text[i + marker.len()..].trim_start();
            let quoted = rest.strip_prefix(['"', '\'', '`']);
            let candidate = quoted.unwrap_or(rest);
            let Some(id) = identifier(candidate) else {
                continue;
            };
            // Bare `id=x` is HTML; bare `id x` is prose, trusted only when
            // x looks like code (`contact-form`, `total_sales`, `mainTitle`).
            let code_like =
                id.contains(['-', '_']) || id.chars().skip(1).any(|c| c.is_ascii_uppercase());
            if quoted.is_some() || marker == "id=" || code_like {
                out.push((i, id.to_owned()));
            }
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, id)| id).collect()
}

fn files(text: &str) -> Vec<String> {
    let is_name_char = |c: char| c.is_alphanumeric() || "_.-/".contains(c);
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find(is_name_char) {
        let token_len = rest[start..]
            .find(|c: char| !is_name_char(c))
            .unwrap_or(rest.len() - start);
        let token = &rest[start..start + token_len];
        let before = text[..offset + start].chars().next_back();
        if let Some(file) = file_name(token, before) {
            out.push(file);
        }
        offset += start + token_len;
        rest = &rest[start + token_len..];
    }
    out
}

fn file_name(token: &str, before: Option<char>) -> Option<String> {
    // `https://host/x.js`, `host.com/x.js` and `?file=x.js` are not our files.
    if matches!(before, Some(':' | '=' | '@')) || token.contains("//") {
        return None;
    }
    let token = token
        .trim_start_matches("./")
        .trim_end_matches(['.', '/', '-']);
    if token
        .split('/')
        .next()
        .is_some_and(|first| token.contains('/') && first.contains('.'))
    {
        return None;
    }
    if NOT_FILES.contains(&token.to_ascii_lowercase().as_str()) {
        return None;
    }
    let path = SitePath::parse(token).ok()?;
    let ext = path.extension()?;
    (CREATABLE.contains(&ext.as_str()) && file_type::media_type(&path).is_some())
        .then(|| path.as_str().to_owned())
}

fn query_params(text: &str) -> Vec<String> {
    text.match_indices('?')
        .filter_map(|(i, _)| {
            let id = identifier(&text[i + 1..])?;
            text[i + 1 + id.len()..]
                .starts_with('=')
                .then(|| id.to_owned())
        })
        .collect()
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
