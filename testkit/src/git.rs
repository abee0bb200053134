//! Running the real `git` in tests, isolated from the machine's own
//! configuration, with fixed dates so the commits it makes are the same
//! every run.

use std::path::{Path, PathBuf};

/// Runs `git args` in `dir`; panics with git's stderr unless it succeeds.
/// Returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_DATE", "2025-03-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2025-03-01T12:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("git prints UTF-8")
        .trim()
        .to_owned()
}

/// [`git`] on a blocking thread, for async tests whose runtime also serves
/// what git talks to (a clone over HTTP from a server in the test).
pub async fn git_async(dir: &Path, args: &[&str]) -> String {
    let dir: PathBuf = dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        git(&dir, &args)
    })
    .await
    .expect("git's thread finishes")
}
