//! Every way out of a bundle ends in a 404 that leaks nothing: a canary
//! file sits in DATA_DIR, in bundles/, and inside each bundle's directory,
//! and its content must never come back.

use crate::helpers::{TestPreview, Version, sample_site, spawn_preview};

/// Paths tried after `/p/{token}/` and `/s/{token}/`.
const CORPUS: &[&str] = &[
    "../canary.txt",
    "../../canary.txt",
    "../../../canary.txt",
    "../../../../../../../../etc/passwd",
    "..%2fcanary.txt",
    "..%2F..%2F..%2Fcanary.txt",
    "%2e%2e/canary.txt",
    "%2E%2E/%2E%2E/canary.txt",
    "%2e%2e%2f%2e%2e%2fcanary.txt",
    ".%2e/canary.txt",
    "%2e./canary.txt",
    "%252e%252e/canary.txt",
    "%252e%252e%252fcanary.txt",
    "..%252f..%252fcanary.txt",
    "..%5ccanary.txt",
    "..%5c..%5ccanary.txt",
    "%5c..%5c..%5ccanary.txt",
    "%2e%2e%5c%2e%2e%5ccanary.txt",
    "index.html%00",
    "..%00/canary.txt",
    "canary.txt%00.html",
    "%00",
    "/etc/passwd",
    "//etc/passwd",
    "%2fetc%2fpasswd",
    "%2F%2Fetc%2Fpasswd",
    "C:/Windows/win.ini",
    "C:%5cWindows%5cwin.ini",
    "file:///etc/passwd",
    "%c0%ae%c0%ae/canary.txt",
    "..%c0%afcanary.txt",
    "%e0%80%ae%e0%80%ae/canary.txt",
    "%c0%2e%c0%2e/canary.txt",
    "%ef%bc%8e%ef%bc%8e/canary.txt",
    "%u002e%u002e/canary.txt",
    "./../canary.txt",
    "docs/../../canary.txt",
    "docs/%2e%2e/%2e%2e/canary.txt",
    "index.html/../../canary.txt",
    "....//....//canary.txt",
    "..;/canary.txt",
    "../manifest.json",
    "manifest.json",
    "../live/index.html/../../canary.txt",
    "../safe/index.html",
    ".env",
    ".git/config",
    "canary.txt",
    "escape.txt",
    "listed-link.txt",
];

async fn assert_nothing_leaks(app: &TestPreview, target: &str) {
    let (status, text) = app.raw_get(target).await;
    assert_eq!(status, 404, "{target} answered {status}:\n{text}");
    assert!(!text.contains(&app.canary), "{target} leaked the canary");
    assert!(!text.contains("root:x:0:0"), "{target} leaked /etc/passwd");
    assert!(!text.contains("\"sha256\""), "{target} leaked the manifest");
    assert!(
        text.to_ascii_lowercase()
            .contains("\r\nx-content-type-options: nosniff\r\n"),
        "{target}: the 404 lacks the common headers:\n{text}"
    );
}

/// A version whose bundle directory also holds symlinks out of DATA_DIR
/// under names a path might become (`escape.txt`, and `data.csv` itself).
async fn tampered_version(app: &TestPreview) -> Version {
    let version = app.create_version(&sample_site()).await;
    let outside = app.data_dir.join("canary.txt");
    let dir = app.store.bundle_dir(&version.bundle);
    for name in ["escape.txt", "data.csv", "live", "safe"] {
        std::os::unix::fs::symlink(&outside, dir.join(name)).unwrap();
    }
    version
}

/// A version whose content file was swapped for a symlink out of the
/// bundle: everything it lists is refused, nothing of the target is served.
async fn version_with_swapped_content(app: &TestPreview) -> Version {
    let version = app.create_version(&sample_site()).await;
    let content = app.store.bundle_dir(&version.bundle).join("content.bin");
    std::fs::remove_file(&content).unwrap();
    std::os::unix::fs::symlink(app.data_dir.join("canary.txt"), &content).unwrap();
    version
}

#[tokio::test]
async fn a_swapped_content_file_is_never_followed() {
    let app = spawn_preview().await;
    let version = version_with_swapped_content(&app).await;
    for path in ["", "index.html", "data.csv", "escape.txt"] {
        assert_nothing_leaks(&app, &version.live(path)).await;
        assert_nothing_leaks(&app, &version.safe(path)).await;
    }
}

#[tokio::test]
async fn no_traversal_path_escapes_the_bundle() {
    assert!(CORPUS.len() >= 30);
    let app = spawn_preview().await;
    let version = tampered_version(&app).await;
    for path in CORPUS.iter().chain(&[
        "escape.txt",
        "live/index.html",
        "safe/index.html",
        "content.bin",
        "manifest.json",
    ]) {
        assert_nothing_leaks(&app, &version.live(path)).await;
        assert_nothing_leaks(&app, &version.safe(path)).await;
    }
    // The same file, asked for honestly, is served: the 404s above are not
    // a server that answers 404 to everything.
    let (status, text) = app.raw_get(&version.live("data.csv")).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("pears,5\n"), "{text}");
}

#[tokio::test]
async fn traversal_in_place_of_the_token_finds_nothing() {
    let app = spawn_preview().await;
    let _version = tampered_version(&app).await;
    for target in [
        "/p/../../etc/passwd",
        "/p/%2e%2e/%2e%2e/canary.txt",
        "/p/..%2f..%2fcanary.txt",
        "/s/%2e%2e%2fcanary.txt/x",
        "/p//etc/passwd",
        "/p/canary.txt",
        "/s/bundles/canary.txt",
        "/p/",
        "/p",
        "/canary.txt",
        "/bundles/canary.txt",
    ] {
        assert_nothing_leaks(&app, target).await;
    }
}
