//! Validating a generator's files: the trust boundary between what an LLM
//! wrote and what we store, serve and publish.
//!
//! Paths must be safe relative paths of allowed static types, unique (ignoring
//! case, which macOS and Windows clones would), within the caps, and free of
//! secrets. Attachments are then written byte-exact under their own names,
//! over any generated file of the same name, and LICENSE, README.md and
//! .nojekyll are filled in when missing.

use std::collections::BTreeMap;

use chrono::Datelike;
use pagesmith::{
    bundle::BundleFile,
    domain::{SitePath, file_type},
};
use secrecy::SecretString;

use crate::{
    generator::{Attachment, GeneratedFile},
    secrets,
    settings::SiteLimits,
};

/// Why a generator's files were refused. Each message names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("the generated site is invalid: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("the generated site carries a secret: {}", .0.join("; "))]
    Secret(Vec<String>),
}

/// Who and what the filled-in files describe.
#[derive(Debug, Clone)]
pub struct FillIn {
    pub title: String,
    pub summary: String,
    pub owner: String,
}

/// Validates `generated`, lays it over `carried` (the previous version's
/// files, for a revision), adds the attachments and the missing standard
/// files, and returns the site's files sorted by path.
pub fn build(
    generated: &[GeneratedFile],
    carried: &[BundleFile],
    attachments: &[Attachment],
    limits: &SiteLimits,
    own_secrets: &[SecretString],
    fill: &FillIn,
) -> Result<Vec<BundleFile>, ManifestError> {
    let mut problems = Vec::new();
    let mut fresh: BTreeMap<String, BundleFile> = BTreeMap::new();
    if generated.is_empty() {
        problems.push("it has no files".to_owned());
    }
    for file in generated {
        let path = match SitePath::parse(&file.path) {
            Ok(path) => path,
            Err(e) => {
                problems.push(format!("the path `{}` {e}", printable(&file.path)));
                continue;
            }
        };
        if file_type::media_type(&path).is_none() {
            problems.push(format!("`{path}` is not an allowed static file type"));
            continue;
        }
        if file.content.len() > limits.max_file_bytes {
            problems.push(format!(
                "`{path}` is {} bytes; the limit is {}",
                file.content.len(),
                limits.max_file_bytes
            ));
            continue;
        }
        let key = path.as_str().to_lowercase();
        if fresh.contains_key(&key) {
            problems.push(format!(
                "`{path}` appears twice (names are compared ignoring case)"
            ));
            continue;
        }
        fresh.insert(
            key,
            BundleFile {
                path,
                bytes: file.content.clone().into_bytes(),
            },
        );
    }
    if !problems.is_empty() {
        return Err(ManifestError::Invalid(problems));
    }

    let findings = secrets::scan(
        generated
            .iter()
            .map(|f| (f.path.as_str(), f.content.as_str())),
        own_secrets,
    );
    if !findings.is_empty() {
        return Err(ManifestError::Secret(
            findings.iter().map(ToString::to_string).collect(),
        ));
    }

    let mut files: BTreeMap<String, BundleFile> = carried
        .iter()
        .map(|f| (f.path.as_str().to_lowercase(), f.clone()))
        .collect();
    files.extend(fresh);
    // Attachments win: they are the sender's bytes, exactly.
    for attachment in attachments {
        files.insert(
            attachment.name.as_str().to_lowercase(),
            BundleFile {
                path: attachment.name.clone(),
                bytes: attachment.data.as_ref().clone(),
            },
        );
    }
    let readme = readme(fill, &files);
    for (name, content) in [
        ("LICENSE", mit_license(&fill.owner)),
        ("README.md", readme),
        (".nojekyll", String::new()),
    ] {
        files
            .entry(name.to_lowercase())
            .or_insert_with(|| BundleFile {
                path: SitePath::parse(name).expect("standard names are valid"),
                bytes: content.into_bytes(),
            });
    }

    // A name cannot be a file and a folder at once: no file system, git
    // tree or web server can hold both `a.html` and `a.html/b.html`.
    for (key, file) in &files {
        let folders = key.match_indices('/').map(|(i, _)| &key[..i]);
        if let Some(folder) = folders.into_iter().find(|f| files.contains_key(*f)) {
            problems.push(format!(
                "`{}` is inside `{}`, which is a file",
                file.path, files[folder].path
            ));
        }
    }
    if files.len() > limits.max_files {
        problems.push(format!(
            "it has {} files; the limit is {}",
            files.len(),
            limits.max_files
        ));
    }
    let total: usize = files.values().map(|f| f.bytes.len()).sum();
    if total > limits.max_total_bytes {
        problems.push(format!(
            "it totals {total} bytes; the limit is {}",
            limits.max_total_bytes
        ));
    }
    if !problems.is_empty() {
        return Err(ManifestError::Invalid(problems));
    }
    let mut files: Vec<BundleFile> = files.into_values().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// A path as it may be shown in an error: control characters made visible.
fn printable(path: &str) -> String {
    let shown: String = path
        .chars()
        .take(120)
        .flat_map(char::escape_debug)
        .collect();
    if path.chars().count() > 120 {
        format!("{shown}…")
    } else {
        shown
    }
}

/// The MIT license text with this year and owner.
pub fn mit_license(owner: &str) -> String {
    let year = chrono::Utc::now().year();
    format!(
        "MIT License\n\nCopyright (c) {year} {owner}\n\n\
Permission is hereby granted, free of charge, to any person obtaining a copy\n\
of this software and associated documentation files (the \"Software\"), to deal\n\
in the Software without restriction, including without limitation the rights\n\
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell\n\
copies of the Software, and to permit persons to whom the Software is\n\
furnished to do so, subject to the following conditions:\n\n\
The above copyright notice and this permission notice shall be included in all\n\
copies or substantial portions of the Software.\n\n\
THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\n\
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\n\
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\n\
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\n\
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\n\
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\n\
SOFTWARE.\n"
    )
}

/// A README for a site whose generator wrote none.
fn readme(fill: &FillIn, files: &BTreeMap<String, BundleFile>) -> String {
    let listing: String = files
        .values()
        .map(|f| format!("- `{}`\n", f.path))
        .collect();
    format!(
        "# {title}\n\n## Summary\n\n{summary}\n\n## Setup\n\nNo build step: this is a static site \
(HTML, CSS and JavaScript). Clone the repository and open `index.html`, or serve the folder with any \
static web server, e.g. `python3 -m http.server`.\n\n## Usage\n\nOpen the published page in a browser.\n\n\
## Code explanation\n\n{listing}\n## License\n\nMIT — see [LICENSE](LICENSE).\n",
        title = fill.title,
        summary = fill.summary,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn generated(files: &[(&str, &str)]) -> Vec<GeneratedFile> {
        files
            .iter()
            .map(|(p, c)| GeneratedFile {
                path: (*p).into(),
                content: (*c).into(),
            })
            .collect()
    }

    fn fill() -> FillIn {
        FillIn {
            title: "Bakery".into(),
            summary: "A bakery site.".into(),
            owner: "Ada".into(),
        }
    }

    fn paths(files: &[BundleFile]) -> Vec<&str> {
        files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn standard_files_are_filled_in_and_attachments_win() {
        let attachment = Attachment {
            name: SitePath::parse("data.csv").unwrap(),
            media_type: "text/csv".into(),
            data: Arc::new(b"a,b\n1,2\n".to_vec()),
        };
        let files = build(
            &generated(&[
                ("index.html", "<h1>Hi</h1>"),
                ("DATA.csv", "rewritten by the LLM"),
            ]),
            &[],
            &[attachment],
            &SiteLimits::default(),
            &[],
            &fill(),
        )
        .unwrap();
        assert_eq!(
            paths(&files),
            [
                ".nojekyll",
                "LICENSE",
                "README.md",
                "data.csv",
                "index.html"
            ]
        );
        let csv = files
            .iter()
            .find(|f| f.path.as_str() == "data.csv")
            .unwrap();
        assert_eq!(
            csv.bytes, b"a,b\n1,2\n",
            "the attachment's bytes, not the LLM's"
        );
        let license = String::from_utf8(files[1].bytes.clone()).unwrap();
        assert!(license.starts_with("MIT License") && license.contains("Ada"));
        let readme = String::from_utf8(files[2].bytes.clone()).unwrap();
        for heading in [
            "## Summary",
            "## Setup",
            "## Usage",
            "## Code explanation",
            "## License",
        ] {
            assert!(readme.contains(heading), "{heading}");
        }
    }

    #[test]
    fn a_revision_keeps_the_previous_files_it_does_not_replace() {
        let carried = vec![
            BundleFile {
                path: SitePath::parse("logo.png").unwrap(),
                bytes: b"\x89PNG".to_vec(),
            },
            BundleFile {
                path: SitePath::parse("index.html").unwrap(),
                bytes: b"old".to_vec(),
            },
        ];
        let files = build(
            &generated(&[("index.html", "new")]),
            &carried,
            &[],
            &SiteLimits::default(),
            &[],
            &fill(),
        )
        .unwrap();
        let index = files
            .iter()
            .find(|f| f.path.as_str() == "index.html")
            .unwrap();
        assert_eq!(index.bytes, b"new");
        assert!(files.iter().any(|f| f.path.as_str() == "logo.png"));
    }

    #[test]
    fn unsafe_paths_and_types_are_refused_with_their_names() {
        let err = build(
            &generated(&[
                ("../../etc/passwd", "x"),
                ("/abs.html", "x"),
                ("run.sh", "x"),
                ("a\0.html", "x"),
            ]),
            &[],
            &[],
            &SiteLimits::default(),
            &[],
            &fill(),
        )
        .unwrap_err();
        let ManifestError::Invalid(problems) = err else {
            panic!("invalid")
        };
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("../../etc/passwd") && problems[0].contains(".."));
        assert!(problems[2].contains("run.sh") && problems[2].contains("not an allowed"));
        assert!(
            problems[3].contains("\\0"),
            "control characters are shown escaped: {}",
            problems[3]
        );
    }

    #[test]
    fn caps_and_duplicates_are_enforced() {
        let limits = SiteLimits {
            max_files: 3,
            max_file_bytes: 10,
            max_total_bytes: 1_000,
        };
        let err = build(
            &generated(&[
                ("a.html", "0123456789ABC"),
                ("b.html", "x"),
                ("B.HTML", "y"),
            ]),
            &[],
            &[],
            &limits,
            &[],
            &fill(),
        )
        .unwrap_err();
        let ManifestError::Invalid(problems) = err else {
            panic!("invalid")
        };
        assert!(problems.iter().any(|p| p.contains("`a.html` is 13 bytes")));
        assert!(problems.iter().any(|p| p.contains("appears twice")));

        let err = build(
            &generated(&[("a.html", "x")]),
            &[],
            &[],
            &limits,
            &[],
            &fill(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("4 files; the limit is 3"), "{err}");
    }

    #[test]
    fn a_name_cannot_be_both_a_file_and_a_folder() {
        let err = build(
            &generated(&[
                ("index.html", "x"),
                ("a.html", "x"),
                ("A.html/b.html", "x"),
                ("LICENSE/terms.txt", "x"),
            ]),
            &[],
            &[],
            &SiteLimits::default(),
            &[],
            &fill(),
        )
        .unwrap_err();
        let ManifestError::Invalid(problems) = err else {
            panic!("invalid")
        };
        assert_eq!(
            problems,
            [
                "`A.html/b.html` is inside `a.html`, which is a file",
                "`LICENSE/terms.txt` is inside `LICENSE`, which is a file",
            ]
        );
        // Folders that are only folders are fine.
        build(
            &generated(&[
                ("index.html", "x"),
                ("docs/a.html", "x"),
                ("docs/b/c.html", "x"),
            ]),
            &[],
            &[],
            &SiteLimits::default(),
            &[],
            &fill(),
        )
        .unwrap();
    }

    #[test]
    fn a_file_with_a_token_fails_the_manifest() {
        let err = build(
            &generated(&[(
                "index.html",
                "<script>const k='ghp_0123456789abcdefghijABCDEFGHIJ012345'</script>",
            )]),
            &[],
            &[],
            &SiteLimits::default(),
            &[],
            &fill(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the generated site carries a secret: `index.html` contains a GitHub token"
        );
    }
}
