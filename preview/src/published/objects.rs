//! Reading a published repository's newest commit straight from its files,
//! for the repository's page: `HEAD`, the branch it names, and the loose
//! objects the local publisher writes (libgit2 writes no packs). Everything
//! read is untrusted: names are checked before they become paths, sizes are
//! capped, and nothing is followed through a symbolic link.

use std::{io::Read, path::Path};

use flate2::read::ZlibDecoder;
use tokio::io::AsyncReadExt;

use super::regular_file_below;

/// At most this many files are listed.
pub const MAX_FILES: usize = 1000;
/// A commit or a tree larger than this is refused.
const MAX_OBJECT_BYTES: u64 = 4 << 20;
/// Enough of a blob's compressed start to hold its header.
const BLOB_HEADER_BYTES: u64 = 4096;
/// Trees nested deeper than this are not walked.
const MAX_DEPTH: usize = 32;

/// The newest commit of a repository, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub message: String,
    /// The committer's time, in seconds since the epoch.
    pub time: i64,
    /// Every file, by path; `size` is `None` for a submodule.
    pub files: Vec<(String, Option<u64>)>,
    /// More than [`MAX_FILES`] files (or deeper than trees are walked).
    pub truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object {0} is not a loose object of the repository")]
    Missing(String),
    #[error("object {sha} is malformed: {problem}")]
    Malformed { sha: String, problem: &'static str },
    #[error("reading object {sha}: {source}")]
    Io { sha: String, source: std::io::Error },
}

/// The commit `HEAD` leads to in the repository `dir` (relative to
/// `root`), or `None` while its branch has no commit.
pub async fn head_commit(root: &Path, dir: &str) -> Result<Option<Commit>, ObjectError> {
    let Some(sha) = resolve_head(root, dir).await else {
        return Ok(None);
    };
    let text = read_object(root, dir, &sha, "commit", MAX_OBJECT_BYTES).await?;
    let text = String::from_utf8_lossy(&text);
    let malformed = |problem| ObjectError::Malformed {
        sha: sha.clone(),
        problem,
    };
    let (header, message) = text.split_once("\n\n").unwrap_or((&text, ""));
    let field = |name: &str| {
        header
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
    };
    let tree = field("tree").filter(|t| is_sha(t));
    let tree = tree.ok_or_else(|| malformed("no tree"))?.to_owned();
    // `committer Name <email> 1700000000 +0000`.
    let time = field("committer")
        .and_then(|c| c.rsplit(' ').nth(1)?.parse().ok())
        .ok_or_else(|| malformed("no committer time"))?;
    let mut commit = Commit {
        sha: sha.clone(),
        message: message.trim_end().to_owned(),
        time,
        files: Vec::new(),
        truncated: false,
    };
    list_files(root, dir, tree, &mut commit).await?;
    commit.files.sort();
    Ok(Some(commit))
}

/// `HEAD`'s commit: a detached sha, or a branch's loose or packed ref.
async fn resolve_head(root: &Path, dir: &str) -> Option<String> {
    let head = read_small(root, &format!("{dir}/HEAD")).await?;
    let head = head.trim();
    if is_sha(head) {
        return Some(head.to_owned());
    }
    let name = head.strip_prefix("ref: ")?;
    let well_formed = name.starts_with("refs/heads/")
        && name
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.'))
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b));
    if !well_formed {
        return None;
    }
    if let Some(sha) = read_small(root, &format!("{dir}/{name}")).await {
        return Some(sha.trim().to_owned()).filter(|s| is_sha(s));
    }
    let packed = read_small(root, &format!("{dir}/packed-refs")).await?;
    packed.lines().find_map(|line| {
        let (sha, line_name) = line.split_once(' ')?;
        (line_name == name && is_sha(sha)).then(|| sha.to_owned())
    })
}

/// Walks `tree` and the trees below it, adding each file with its size.
async fn list_files(
    root: &Path,
    dir: &str,
    tree: String,
    commit: &mut Commit,
) -> Result<(), ObjectError> {
    let mut pending = vec![(String::new(), tree, 0)];
    while let Some((prefix, sha, depth)) = pending.pop() {
        let bytes = read_object(root, dir, &sha, "tree", MAX_OBJECT_BYTES).await?;
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let malformed = || ObjectError::Malformed {
                sha: sha.clone(),
                problem: "a tree entry is cut short",
            };
            let space = rest.iter().position(|&b| b == b' ').ok_or_else(malformed)?;
            let nul = rest.iter().position(|&b| b == 0).ok_or_else(malformed)?;
            let id = rest.get(nul + 1..nul + 21).filter(|_| space < nul);
            let id = id.ok_or_else(malformed)?;
            let (mode, name) = (
                &rest[..space],
                String::from_utf8_lossy(&rest[space + 1..nul]),
            );
            let path = format!("{prefix}{name}");
            let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
            rest = &rest[nul + 21..];
            if commit.files.len() >= MAX_FILES {
                commit.truncated = true;
                return Ok(());
            }
            match mode {
                b"40000" if depth < MAX_DEPTH => pending.push((format!("{path}/"), id, depth + 1)),
                b"40000" => commit.truncated = true,
                b"160000" => commit.files.push((path, None)),
                _ => {
                    let size = blob_size(root, dir, &id).await?;
                    commit.files.push((path, Some(size)));
                }
            }
        }
    }
    Ok(())
}

/// A blob's size, from its header alone.
async fn blob_size(root: &Path, dir: &str, sha: &str) -> Result<u64, ObjectError> {
    let (_, size) = read_header(root, dir, sha, "blob", BLOB_HEADER_BYTES).await?;
    Ok(size)
}

/// A whole object of kind `kind`, no larger than `max` bytes.
async fn read_object(
    root: &Path,
    dir: &str,
    sha: &str,
    kind: &str,
    max: u64,
) -> Result<Vec<u8>, ObjectError> {
    let (decoder, size) = read_header(root, dir, sha, kind, max).await?;
    let malformed = |problem| ObjectError::Malformed {
        sha: sha.to_owned(),
        problem,
    };
    if size > max {
        return Err(malformed("too large"));
    }
    let mut body = Vec::new();
    decoder
        .take(size + 1)
        .read_to_end(&mut body)
        .map_err(|_| malformed("not zlib data"))?;
    match body.len() as u64 == size {
        true => Ok(body),
        false => Err(malformed("its size is not its header's")),
    }
}

/// The first `limit` bytes of the object's file, decoded past the header
/// (`{kind} {size}\0`), and the size the header gives.
async fn read_header(
    root: &Path,
    dir: &str,
    sha: &str,
    kind: &str,
    limit: u64,
) -> Result<(ZlibDecoder<std::io::Cursor<Vec<u8>>>, u64), ObjectError> {
    let relative = format!("{dir}/objects/{}/{}", &sha[..2], &sha[2..]);
    let path = regular_file_below(root, &relative)
        .await
        .ok_or_else(|| ObjectError::Missing(sha.to_owned()))?;
    let io = |source| ObjectError::Io {
        sha: sha.to_owned(),
        source,
    };
    let file = tokio::fs::File::open(path).await.map_err(io)?;
    let mut compressed = Vec::new();
    file.take(limit)
        .read_to_end(&mut compressed)
        .await
        .map_err(io)?;
    let mut decoder = ZlibDecoder::new(std::io::Cursor::new(compressed));
    let mut header = Vec::new();
    let mut byte = [0u8];
    while header.len() < 32 && decoder.read_exact(&mut byte).is_ok() && byte[0] != 0 {
        header.push(byte[0]);
    }
    let size = std::str::from_utf8(&header)
        .ok()
        .and_then(|h| h.strip_prefix(kind)?.strip_prefix(' ')?.parse().ok());
    match (byte[0], size) {
        (0, Some(size)) => Ok((decoder, size)),
        _ => Err(ObjectError::Malformed {
            sha: sha.to_owned(),
            problem: "not the expected kind of object",
        }),
    }
}

/// A small text file of the repository (`HEAD`, a ref), if it is one.
async fn read_small(root: &Path, relative: &str) -> Option<String> {
    let path = regular_file_below(root, relative).await?;
    let file = tokio::fs::File::open(path).await.ok()?;
    let mut text = String::new();
    file.take(64 << 10).read_to_string(&mut text).await.ok()?;
    Some(text)
}

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests;
