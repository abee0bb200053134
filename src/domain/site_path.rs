//! File paths inside a generated site: attachment names and manifest paths.
//!
//! These come from untrusted senders and an untrusted LLM, and end up as file
//! names on disk, in git trees and in URLs, so a [`SitePath`] can only be
//! built by [`SitePath::parse`], which accepts a relative, normalized path
//! that is safe in all three and on the OSes people clone to.

use std::fmt;

/// A validated, normalized relative path such as `assets/logo.png`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct SitePath(String);

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SitePathError {
    #[error("is empty")]
    Empty,
    #[error("is {0} bytes long; the limit is {max}", max = SitePath::MAX_LEN)]
    TooLong(usize),
    #[error("is absolute; it must be relative")]
    Absolute,
    #[error("contains `..`")]
    ParentDir,
    #[error("contains a backslash")]
    Backslash,
    #[error("contains a NUL or control character")]
    ControlChar,
    #[error("contains `{0}`, which is not allowed in file names")]
    ForbiddenChar(char),
    #[error("names a hidden file or folder `{0}`")]
    Hidden(String),
    #[error("uses `{0}`, a name reserved on Windows")]
    Reserved(String),
    #[error("has a name ending in a dot or space: `{0}`")]
    TrailingDotOrSpace(String),
    #[error("names a folder, not a file")]
    Directory,
}

/// Names Windows refuses as files, with any extension.
const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Hidden files we write ourselves and therefore allow, as files at the top.
const ALLOWED_HIDDEN: &[&str] = &[".nojekyll"];

impl SitePath {
    /// The longest path accepted, in bytes.
    pub const MAX_LEN: usize = 200;

    /// Validates and normalizes (`./a//b` becomes `a/b`).
    pub fn parse(raw: &str) -> Result<Self, SitePathError> {
        if raw.is_empty() {
            return Err(SitePathError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(SitePathError::TooLong(raw.len()));
        }
        if raw.chars().any(char::is_control) {
            return Err(SitePathError::ControlChar);
        }
        if raw.contains('\\') {
            return Err(SitePathError::Backslash);
        }
        if raw.starts_with('/') || raw.as_bytes().get(1) == Some(&b':') {
            return Err(SitePathError::Absolute);
        }
        if raw.ends_with('/') {
            return Err(SitePathError::Directory);
        }
        if let Some(c) = raw.chars().find(|c| "<>:\"|?*#%".contains(*c)) {
            return Err(SitePathError::ForbiddenChar(c));
        }

        // The hidden files we write are files at the top, never folders: a
        // `.nojekyll/` folder would collide with the `.nojekyll` file.
        let alone = raw.split('/').filter(|p| !matches!(*p, "" | ".")).count() == 1;
        let mut parts = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => continue,
                ".." => return Err(SitePathError::ParentDir),
                _ => {}
            }
            if part.starts_with('.') && !(alone && ALLOWED_HIDDEN.contains(&part)) {
                return Err(SitePathError::Hidden(part.to_owned()));
            }
            if part.ends_with('.') || part.ends_with(' ') || part.starts_with(' ') {
                return Err(SitePathError::TrailingDotOrSpace(part.to_owned()));
            }
            let stem = part.split('.').next().unwrap_or(part).to_ascii_lowercase();
            if RESERVED.contains(&stem.as_str()) {
                return Err(SitePathError::Reserved(part.to_owned()));
            }
            parts.push(part);
        }
        if parts.is_empty() {
            return Err(SitePathError::Empty);
        }
        Ok(Self(parts.join("/")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last component: `logo.png` for `assets/logo.png`.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The extension, lower-cased, if any.
    pub fn extension(&self) -> Option<String> {
        let name = self.file_name();
        name.rsplit_once('.')
            .filter(|(stem, _)| !stem.is_empty())
            .map(|(_, ext)| ext.to_ascii_lowercase())
    }
}

impl fmt::Display for SitePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SitePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(|e| serde::de::Error::custom(format!("path `{raw}` {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_normalizes_ordinary_paths() {
        for (raw, expected) in [
            ("index.html", "index.html"),
            ("./assets//logo.png", "assets/logo.png"),
            ("data/sales 2024.csv", "data/sales 2024.csv"),
            (".nojekyll", ".nojekyll"),
            ("README.md", "README.md"),
            ("naïve.txt", "naïve.txt"),
        ] {
            assert_eq!(SitePath::parse(raw).unwrap().as_str(), expected, "{raw}");
        }
    }

    #[test]
    fn refuses_unsafe_paths_with_a_reason() {
        use SitePathError::*;
        for (raw, expected) in [
            ("", Empty),
            ("./", Directory),
            (".", Empty),
            ("../x", ParentDir),
            ("a/../../etc/passwd", ParentDir),
            ("/etc/passwd", Absolute),
            ("C:/x", Absolute),
            ("a\\b", Backslash),
            ("a\0b", ControlChar),
            ("a\nb", ControlChar),
            ("con", Reserved("con".into())),
            ("docs/NUL.txt", Reserved("NUL.txt".into())),
            (".env", Hidden(".env".into())),
            ("a/.git/config", Hidden(".git".into())),
            ("sub/.nojekyll", Hidden(".nojekyll".into())),
            ("./.nojekyll/index.html", Hidden(".nojekyll".into())),
            ("dir/", Directory),
            ("a?b", ForbiddenChar('?')),
            ("a#b", ForbiddenChar('#')),
            ("name.", TrailingDotOrSpace("name.".into())),
        ] {
            assert_eq!(SitePath::parse(raw), Err(expected), "{raw:?}");
        }
        assert_eq!(SitePath::parse(&"a".repeat(300)), Err(TooLong(300)));
    }

    #[test]
    fn knows_file_names_and_extensions() {
        let p = SitePath::parse("assets/Logo.PNG").unwrap();
        assert_eq!(p.file_name(), "Logo.PNG");
        assert_eq!(p.extension().as_deref(), Some("png"));
        assert_eq!(SitePath::parse("LICENSE").unwrap().extension(), None);
    }

    proptest! {
        #[test]
        fn accepted_paths_are_relative_normalized_and_stable(raw in "[a-zA-Z0-9./ _-]{0,60}") {
            if let Ok(path) = SitePath::parse(&raw) {
                let s = path.as_str();
                prop_assert!(!s.starts_with('/'));
                prop_assert!(!s.ends_with('/'));
                prop_assert!(s.split('/').all(|c| !c.is_empty() && c != "." && c != ".."));
                prop_assert!(!s.contains('\\'));
                prop_assert!(s.split('/').all(|c| !c.starts_with('.') || c == ".nojekyll"));
                // Parsing is idempotent.
                prop_assert_eq!(SitePath::parse(s).unwrap(), path.clone());
            }
        }

        #[test]
        fn no_input_escapes_the_site_root(raw in "\\PC{0,80}") {
            if let Ok(path) = SitePath::parse(&raw) {
                let joined = std::path::Path::new("/site").join(path.as_str());
                prop_assert!(joined.starts_with("/site/"));
                prop_assert!(joined.components().all(|c| !matches!(c, std::path::Component::ParentDir)));
            }
        }
    }
}
