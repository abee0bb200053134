//! The messages sent to the LLM: one system message with the rules, one user
//! message with the request.
//!
//! Everything the site is graded on goes in verbatim (the brief, every
//! check), because a paraphrase loses the exact ids and strings a check
//! reads. Untrusted text is fenced between BEGIN/END lines so the model can
//! tell our instructions from the sender's.

use std::fmt::Write as _;

use super::{Attachment, GeneratedFile, SiteRequest};

/// A system and a user message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The rules and the answer's shape.
    pub system: String,
    /// The request: brief, checks, attachments, current files, problems.
    pub user: String,
}

/// Text attachments up to this size are quoted whole; larger or binary ones
/// are described by name, type and size only.
pub const MAX_INLINE_ATTACHMENT: usize = 20 * 1024;
/// The most attachment text quoted in all; later ones are described only,
/// so fifty small files cannot crowd out the brief.
pub const MAX_INLINE_ATTACHMENTS_TOTAL: usize = 80 * 1024;
/// The most of one current file quoted in a revision or repair prompt.
pub const MAX_INLINE_FILE: usize = 40 * 1024;
/// The most of all current files quoted; the rest are listed by name.
pub const MAX_INLINE_FILES_TOTAL: usize = 160 * 1024;

const SYSTEM: &str = r#"You are an expert front-end developer who writes complete, working static websites.

Rules:
1. Static files only: HTML, CSS and JavaScript that run in a browser from GitHub Pages. No server code, no build step, no frameworks that need compiling. Libraries may be loaded from a public CDN with <script src="https://...">.
2. Always write an `index.html`. Link files with relative links (`style.css`, `data/x.json`), never absolute paths starting with `/`.
3. The attachments are already in the repository under their own names. Do not rewrite them and do not include them in your answer. Use them: reference each by its exact name (relative path).
4. Follow the brief literally. Use element ids, titles, texts and values exactly as the brief and the checks say. Do not add formatting (thousands separators, currency signs, rounding) to a number that a check reads.
5. Code that a check inspects (for example a script reading `?url=` or computing a total) stays inline in `index.html`, unless the brief names another file for it.
6. Write a `README.md` with these sections, as `##` headings: Summary, Setup, Usage, Code explanation, License.
7. Write a `LICENSE` file with the full MIT License text, the current year and the owner's name.
8. Write every file in full: no placeholders, no "rest unchanged", no ellipses.
9. Give the site a short name, as a visitor would call it (the business, product or app name; at most 40 characters), in "name".

Answer with ONLY a JSON object, no prose and no Markdown fences, of this shape:
{"name":"Crumb & Co","files":[{"path":"index.html","content":"<!doctype html>..."},{"path":"README.md","content":"..."}]}"#;

/// The prompt that writes a site (round 1) or revises it (round 2 and up).
pub fn generate(request: &SiteRequest, year: i32) -> Prompt {
    let mut user = String::new();
    request_section(&mut user, request, year);
    if is_revision(request) {
        user.push_str(
            "\n## This is a revision\nChange the current site as asked below. Keep what the \
             change does not touch, keep file names stable, and answer with the full, updated \
             manifest (every file, not only the changed ones).\n",
        );
        files_section(
            &mut user,
            "The current files",
            &request.previous_files,
            request,
        );
        change_section(&mut user, request);
    }
    closing(&mut user);
    Prompt {
        system: SYSTEM.to_owned(),
        user,
    }
}

/// The prompt that fixes `current` so the checks' `problems` go away.
pub fn repair(
    request: &SiteRequest,
    current: &[GeneratedFile],
    problems: &[String],
    year: i32,
) -> Prompt {
    let mut user = String::new();
    request_section(&mut user, request, year);
    change_section(&mut user, request);
    files_section(&mut user, "The files as generated", current, request);
    user.push_str(
        "\n## Problems found by the checks (of the files, and of the page run in a browser)\n",
    );
    for (i, problem) in problems.iter().enumerate() {
        let _ = writeln!(user, "{}. {}", i + 1, problem);
    }
    user.push_str(
        "\nFix every problem above without breaking anything else, and answer with the full, \
         corrected manifest (every file, not only the changed ones).\n",
    );
    closing(&mut user);
    Prompt {
        system: SYSTEM.to_owned(),
        user,
    }
}

/// Whether the request revises an existing site.
pub fn is_revision(request: &SiteRequest) -> bool {
    request.round >= 2 || !request.previous_files.is_empty() || request.change_request.is_some()
}

fn request_section(out: &mut String, request: &SiteRequest, year: i32) {
    let owner = if request.owner.trim().is_empty() {
        "the site's owner"
    } else {
        request.owner.trim()
    };
    let _ = writeln!(
        out,
        "# Build a static website\n\nRound: {}. Copyright holder for the LICENSE: {owner}, year {year}.",
        request.round.max(1)
    );
    fenced(out, "The brief", &request.brief);
    if request.checks.is_empty() {
        out.push_str("\n## Checks\nNone given: follow the brief.\n");
    } else {
        out.push_str("\n## Checks the site will be graded by (verbatim)\n");
        for (i, check) in request.checks.iter().enumerate() {
            let _ = writeln!(out, "{}. {}", i + 1, check);
        }
    }
    attachments_section(out, &request.attachments);
}

/// The change asked for; for /app round 2 and up it is the brief itself,
/// which is already quoted above.
fn change_section(out: &mut String, request: &SiteRequest) {
    match request.change_request.as_deref().map(str::trim) {
        Some(change) if change == request.brief.trim() => {
            out.push_str("\n## The change asked for\nThe brief above is the change asked for.\n");
        }
        Some(change) if !change.is_empty() => fenced(out, "The change asked for", change),
        _ => {}
    }
}

fn attachments_section(out: &mut String, attachments: &[Attachment]) {
    if attachments.is_empty() {
        return;
    }
    out.push_str(
        "\n## Attachments (already in the repository; use them by these exact names, do not rewrite them)\n",
    );
    for a in attachments {
        let _ = writeln!(
            out,
            "- `{}` ({}, {} bytes)",
            a.name,
            a.media_type,
            a.data.len()
        );
    }
    let mut budget = MAX_INLINE_ATTACHMENTS_TOTAL;
    for a in attachments {
        if let Some(text) = inline_text(a).filter(|t| t.len() <= budget) {
            budget -= text.len();
            fenced(out, &format!("Content of attachment `{}`", a.name), text);
        }
    }
}

/// The attachment's text, if it is small UTF-8 text worth quoting.
fn inline_text(attachment: &Attachment) -> Option<&str> {
    let textual = pagesmith::domain::file_type::is_text(&attachment.name)
        || attachment.media_type.starts_with("text/")
        || attachment.media_type.contains("json");
    if !textual || attachment.data.len() > MAX_INLINE_ATTACHMENT {
        return None;
    }
    std::str::from_utf8(&attachment.data).ok()
}

fn files_section(out: &mut String, heading: &str, files: &[GeneratedFile], request: &SiteRequest) {
    let _ = writeln!(out, "\n## {heading}");
    if files.is_empty() {
        out.push_str("(none)\n");
        return;
    }
    let mut budget = MAX_INLINE_FILES_TOTAL;
    let mut listed_only = Vec::new();
    for file in files {
        // Attachments are described above and are restored byte-exact anyway.
        if request
            .attachments
            .iter()
            .any(|a| a.name.as_str() == file.path)
        {
            continue;
        }
        if budget == 0 {
            listed_only.push(file);
            continue;
        }
        let limit = MAX_INLINE_FILE.min(budget);
        let shown = truncate(&file.content, limit);
        budget -= shown.len();
        let body = if shown.len() < file.content.len() {
            format!(
                "{shown}\n[… truncated: {} more bytes not shown; keep that part as it is …]",
                file.content.len() - shown.len()
            )
        } else {
            shown.to_owned()
        };
        fenced(out, &format!("File `{}`", file.path), &body);
    }
    if !listed_only.is_empty() {
        out.push_str("\nAlso present, not shown (keep them unless the change says otherwise):\n");
        for file in listed_only {
            let _ = writeln!(out, "- `{}` ({} bytes)", file.path, file.content.len());
        }
    }
}

/// The longest prefix of `text` no longer than `max` bytes, cut at a line
/// end when one is near, and always at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let cut = crate::text::prefix_bytes(text, max);
    match cut.rfind('\n') {
        Some(nl) if nl >= cut.len() / 2 => &cut[..nl],
        _ => cut,
    }
}

fn fenced(out: &mut String, label: &str, text: &str) {
    let _ = write!(
        out,
        "\n## {label}\n----- BEGIN -----\n{}\n----- END -----\n",
        text.trim_end()
    );
}

fn closing(out: &mut String) {
    out.push_str(
        "\nAnswer with ONLY the JSON manifest {\"files\":[{\"path\":...,\"content\":...}]}.\n",
    );
}

#[cfg(test)]
#[path = "prompt_tests.rs"]
mod tests;
