//! `/diff`: what changed between the last two versions of the chat's latest
//! site — files added, removed and changed, with line counts.

use std::collections::BTreeMap;

use pagesmith::{bundle::BundleFile, db, domain::job::TelegramCommand};
use similar::{ChangeTag, TextDiff};

use super::{NO_SITE, chat_project};
use crate::{
    environment::Environment, error::JobError, stages::bundle::read_files, telegram::escape,
};

/// How one file differs between two versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// A new file, with its line count (`None` for binary files).
    Added(String, Option<usize>),
    /// A file that is gone, with the line count it had.
    Removed(String, Option<usize>),
    /// A file whose bytes differ: lines added and removed (`None` for binary files).
    Changed(String, Option<(usize, usize)>),
}

pub async fn run(env: &Environment, command: &TelegramCommand) -> Result<String, JobError> {
    let Some(project) = chat_project(env, command).await? else {
        return Ok(NO_SITE.to_owned());
    };
    let versions = db::versions::latest_two(&env.pool, project.id).await?;
    let [new, old] = versions.as_slice() else {
        return Ok(format!(
            "<b>{}</b> has only {} version so far, so there is nothing to compare yet. \
             Reply to my message with a change to make a second one.",
            escape(&project.title),
            versions.len()
        ));
    };
    let changes = compare(&read_files(env, old).await?, &read_files(env, new).await?);
    let header = format!(
        "🔀 <b>{}</b>: version {} → version {}",
        escape(&project.title),
        old.number,
        new.number
    );
    if changes.is_empty() {
        return Ok(format!("{header}\n\nNo file changed."));
    }
    let lines: Vec<String> = changes.iter().map(describe).collect();
    Ok(format!("{header}\n\n{}", lines.join("\n")))
}

fn describe(change: &FileChange) -> String {
    let lines = |n: &Option<usize>, sign: char| {
        n.map_or(" (binary)".to_owned(), |n| format!(" ({sign}{n} lines)"))
    };
    match change {
        FileChange::Added(path, n) => {
            format!("➕ added <code>{}</code>{}", escape(path), lines(n, '+'))
        }
        FileChange::Removed(path, n) => {
            format!("➖ removed <code>{}</code>{}", escape(path), lines(n, '−'))
        }
        FileChange::Changed(path, counts) => format!(
            "✏️ changed <code>{}</code>{}",
            escape(path),
            counts.map_or(" (binary)".to_owned(), |(plus, minus)| format!(
                " (+{plus} −{minus} lines)"
            ))
        ),
    }
}

/// The files that differ between `old` and `new`, by path.
pub fn compare(old: &[BundleFile], new: &[BundleFile]) -> Vec<FileChange> {
    let old: BTreeMap<&str, &[u8]> = old
        .iter()
        .map(|f| (f.path.as_str(), &f.bytes[..]))
        .collect();
    let new: BTreeMap<&str, &[u8]> = new
        .iter()
        .map(|f| (f.path.as_str(), &f.bytes[..]))
        .collect();
    let mut changes = Vec::new();
    for (path, before) in &old {
        match new.get(path) {
            None => changes.push(FileChange::Removed(path.to_string(), line_count(before))),
            Some(after) if after != before => {
                let counts = match (std::str::from_utf8(before), std::str::from_utf8(after)) {
                    (Ok(a), Ok(b)) => Some(line_changes(a, b)),
                    _ => None,
                };
                changes.push(FileChange::Changed(path.to_string(), counts));
            }
            Some(_) => {}
        }
    }
    for (path, bytes) in &new {
        if !old.contains_key(path) {
            changes.push(FileChange::Added(path.to_string(), line_count(bytes)));
        }
    }
    changes
}

fn line_count(bytes: &[u8]) -> Option<usize> {
    std::str::from_utf8(bytes).ok().map(|s| s.lines().count())
}

/// Lines added and removed by a line diff.
fn line_changes(before: &str, after: &str) -> (usize, usize) {
    let diff = TextDiff::from_lines(before, after);
    diff.iter_all_changes()
        .fold((0, 0), |(plus, minus), change| match change.tag() {
            ChangeTag::Insert => (plus + 1, minus),
            ChangeTag::Delete => (plus, minus + 1),
            ChangeTag::Equal => (plus, minus),
        })
}

#[cfg(test)]
mod tests {
    use pagesmith::domain::SitePath;

    use super::*;

    fn file(path: &str, content: &[u8]) -> BundleFile {
        BundleFile {
            path: SitePath::parse(path).unwrap(),
            bytes: content.to_vec(),
        }
    }

    #[test]
    fn added_removed_and_changed_files_are_reported_with_line_counts() {
        let old = [
            file("a.html", b"one\ntwo\nthree\n"),
            file("gone.css", b"x\ny\n"),
            file("same.js", b"s\n"),
        ];
        let new = [
            file("a.html", b"one\n2\nthree\nfour\n"),
            file("new.txt", b"n\n"),
            file("same.js", b"s\n"),
        ];
        assert_eq!(
            compare(&old, &new),
            [
                FileChange::Changed("a.html".into(), Some((2, 1))),
                FileChange::Removed("gone.css".into(), Some(2)),
                FileChange::Added("new.txt".into(), Some(1)),
            ]
        );
    }

    #[test]
    fn binary_files_have_no_line_counts() {
        let old = [file("logo.png", b"\x89PNG\xff")];
        let new = [file("logo.png", b"\x89PNG\xfe")];
        assert_eq!(
            compare(&old, &new),
            [FileChange::Changed("logo.png".into(), None)]
        );
        assert_eq!(
            describe(&compare(&old, &new)[0]),
            "✏️ changed <code>logo.png</code> (binary)"
        );
    }
}
