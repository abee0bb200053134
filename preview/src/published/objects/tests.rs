use std::{io::Write, path::Path};

use flate2::{Compression, write::ZlibEncoder};

use super::*;

const DIR: &str = "demo-abc123.git";

/// Writes `{kind} {len}\0{body}` as the loose object named `{n:040x}`.
fn object(root: &Path, n: u64, kind: &str, body: &[u8]) -> String {
    let sha = format!("{n:040x}");
    let path = root.join(DIR).join("objects").join(&sha[..2]);
    std::fs::create_dir_all(&path).unwrap();
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(format!("{kind} {}\0", body.len()).as_bytes())
        .unwrap();
    encoder.write_all(body).unwrap();
    std::fs::write(path.join(&sha[2..]), encoder.finish().unwrap()).unwrap();
    sha
}

/// A tree's bytes: `{mode} {name}\0{20-byte id}` each.
fn tree(entries: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (mode, name, sha) in entries {
        bytes.extend(format!("{mode} {name}\0").as_bytes());
        for i in (0..40).step_by(2) {
            bytes.push(u8::from_str_radix(&sha[i..i + 2], 16).unwrap());
        }
    }
    bytes
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(DIR).join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn a_commit_lists_every_file_of_its_trees() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let a = object(root, 1, "blob", b"hi");
    let b = object(root, 2, "blob", b"bye");
    let sub = object(root, 3, "tree", &tree(&[("100644", "b.txt", &b)]));
    let top = tree(&[
        ("100644", "a.txt", &a),
        ("40000", "sub", &sub),
        ("160000", "vendor", &format!("{:040x}", 99)),
    ]);
    let top = object(root, 4, "tree", &top);
    let commit = format!(
        "tree {top}\nauthor A <a@b> 1740830400 +0100\n\
         committer C <c@d> 1740830401 +0000\n\nRound 1: x\n\nBody.\n"
    );
    let sha = object(root, 5, "commit", commit.as_bytes());
    // HEAD's branch only in packed-refs, as after `git pack-refs`.
    write(root, "HEAD", "ref: refs/heads/main\n");
    write(
        root,
        "packed-refs",
        &format!("# pack-refs\n{sha} refs/heads/main\n"),
    );

    let commit = head_commit(root, DIR).await.unwrap().unwrap();

    assert_eq!(commit.sha, sha);
    assert_eq!(commit.time, 1_740_830_401);
    assert_eq!(commit.message, "Round 1: x\n\nBody.");
    assert_eq!(
        commit.files,
        [
            ("a.txt".to_owned(), Some(2)),
            ("sub/b.txt".to_owned(), Some(3)),
            ("vendor".to_owned(), None),
        ]
    );
    assert!(!commit.truncated);
}

#[tokio::test]
async fn a_blob_size_is_read_from_the_start_of_a_large_blob() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Incompressible (stored blocks) and compressible (Huffman blocks).
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..3 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let text = "All work and no play. ".repeat(150_000);
    for (n, body) in [(1, &noise[..]), (2, text.as_bytes())] {
        let sha = object(root, n, "blob", body);
        assert_eq!(blob_size(root, DIR, &sha).await.unwrap(), body.len() as u64);
    }
}

#[tokio::test]
async fn a_branch_without_a_commit_is_no_commit() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "HEAD", "ref: refs/heads/main\n");
    assert_eq!(head_commit(dir.path(), DIR).await.unwrap(), None);
    // A ref name that would leave the repository is not followed.
    write(dir.path(), "HEAD", "ref: refs/heads/../../config\n");
    write(dir.path(), "config", &format!("{:040x}\n", 1));
    assert_eq!(head_commit(dir.path(), DIR).await.unwrap(), None);
}

#[tokio::test]
async fn missing_and_mislabelled_objects_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let sha = format!("{:040x}", 7);
    write(root, "HEAD", &format!("{sha}\n"));
    let missing = head_commit(root, DIR).await.unwrap_err();
    assert!(
        matches!(missing, ObjectError::Missing(ref s) if *s == sha),
        "{missing}"
    );

    object(root, 7, "blob", b"tree 1234\n\nnot a commit");
    let mislabelled = head_commit(root, DIR).await.unwrap_err();
    assert!(
        matches!(mislabelled, ObjectError::Malformed { .. }),
        "{mislabelled}"
    );
}
