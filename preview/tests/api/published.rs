//! The pages origin (`PAGES_ADDR`): published sites and their repositories,
//! laid out on disk the way the local publisher writes them.

use std::{fs, path::Path};

use crate::helpers::{TestPreview, spawn_preview};

const SHA_1: &str = "1111111111111111111111111111111111111111";
const SHA_2: &str = "2222222222222222222222222222222222222222";

/// `pages/.commits/{sha}/…` with `files`, and `pages/{repo}` pointing at it.
fn publish(preview: &TestPreview, repo: &str, sha: &str, files: &[(&str, &str)]) {
    let pages = preview.data_dir.join("pages");
    let dir = pages.join(".commits").join(sha);
    for (path, text) in files {
        let target = dir.join(path);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(target, text).unwrap();
    }
    let next = pages.join(format!(".{repo}.next"));
    let _ = fs::remove_file(&next);
    std::os::unix::fs::symlink(Path::new(".commits").join(sha), &next).unwrap();
    fs::rename(next, pages.join(repo)).unwrap();
}

/// `GET` on the pages origin, with `If-None-Match: "{etag}"` if given.
async fn get_pages(preview: &TestPreview, path: &str, etag: Option<&str>) -> reqwest::Response {
    let mut request = preview.client.get(preview.pages_url(path));
    if let Some(etag) = etag {
        request = request.header("if-none-match", format!("\"{etag}\""));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_published_site_is_served_like_github_pages() {
    let preview = spawn_preview().await;
    publish(
        &preview,
        "demo-abc123",
        SHA_1,
        &[
            ("index.html", "<h1>Round one</h1>"),
            ("data/table.csv", "a,b\n1,2\n"),
            ("docs/index.html", "<p>docs</p>"),
        ],
    );
    let get = |path: &str| preview.client.get(preview.pages_url(path)).send();

    let index = get("/demo-abc123/").await.unwrap();
    assert_eq!(index.status(), 200);
    let headers = index.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["etag"], format!("\"{SHA_1}\""));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["access-control-allow-origin"], "*");
    // A published site is public: no preview sandbox, no noindex.
    assert!(headers.get("content-security-policy").is_none());
    assert!(headers.get("x-robots-tag").is_none());
    assert!(headers.get("set-cookie").is_none());
    assert_eq!(index.text().await.unwrap(), "<h1>Round one</h1>");

    let csv = get("/demo-abc123/data/table.csv").await.unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.text().await.unwrap(), "a,b\n1,2\n");

    for (from, to) in [
        ("/demo-abc123", "/demo-abc123/"),
        ("/demo-abc123/docs", "/demo-abc123/docs/"),
    ] {
        let redirect = get(from).await.unwrap();
        assert_eq!(redirect.status(), 301, "{from}");
        assert_eq!(redirect.headers()["location"], to, "{from}");
    }
    assert_eq!(
        get("/demo-abc123/docs/")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "<p>docs</p>"
    );

    let cached = get_pages(&preview, "/demo-abc123/", Some(SHA_1)).await;
    assert_eq!(cached.status(), 304);
}

#[tokio::test]
async fn a_new_round_replaces_the_site_at_the_same_address() {
    let preview = spawn_preview().await;
    publish(
        &preview,
        "demo-abc123",
        SHA_1,
        &[("index.html", "one"), ("old.html", "old")],
    );
    publish(&preview, "demo-abc123", SHA_2, &[("index.html", "two")]);

    let index = get_pages(&preview, "/demo-abc123/", None).await;
    assert_eq!(index.headers()["etag"], format!("\"{SHA_2}\""));
    assert_eq!(index.text().await.unwrap(), "two");
    // Files of the earlier round are gone from the site, as on GitHub Pages.
    let old = get_pages(&preview, "/demo-abc123/old.html", None).await;
    assert_eq!(old.status(), 404);
    // An ETag of the earlier round no longer matches.
    let revalidated = get_pages(&preview, "/demo-abc123/", Some(SHA_1)).await;
    assert_eq!(revalidated.status(), 200);
}

#[tokio::test]
async fn nothing_outside_a_published_commit_is_ever_served() {
    let preview = spawn_preview().await;
    publish(&preview, "demo-abc123", SHA_1, &[("index.html", "ok")]);
    let pages = preview.data_dir.join("pages");
    let commit = pages.join(".commits").join(SHA_1);
    // A symlink inside the commit, and site links the publisher never makes.
    std::os::unix::fs::symlink(preview.data_dir.join("canary.txt"), commit.join("leak.txt"))
        .unwrap();
    std::os::unix::fs::symlink(&preview.data_dir, commit.join("up")).unwrap();
    std::os::unix::fs::symlink("..", pages.join("escape-abc123")).unwrap();
    std::os::unix::fs::symlink(
        preview.data_dir.join("canary.txt"),
        pages.join("file-abc123"),
    )
    .unwrap();

    for target in [
        "/demo-abc123/leak.txt",
        "/demo-abc123/up/canary.txt",
        "/demo-abc123/../canary.txt",
        "/demo-abc123/%2e%2e/canary.txt",
        "/demo-abc123/%2e%2e%2f%2e%2e%2fcanary.txt",
        "/demo-abc123/..%5ccanary.txt",
        "/demo-abc123/%00",
        "/escape-abc123/canary.txt",
        "/escape-abc123/pages/demo-abc123/index.html",
        "/file-abc123/",
        "/.commits/1111111111111111111111111111111111111111/index.html",
        "/../canary.txt",
        "/canary.txt",
        "/",
    ] {
        let (status, text) = preview.raw_get_pages(target).await;
        assert!(matches!(status, 404 | 400), "{target}: {status}");
        assert!(
            !text.contains(&preview.canary),
            "{target} leaked the canary"
        );
    }
    let (status, text) = preview.raw_get_pages("/nothing-here/").await;
    assert_eq!(status, 404);
    assert!(
        text.contains("Nothing is published at this address"),
        "{text}"
    );
}

#[tokio::test]
async fn a_repository_is_served_for_dumb_http_cloning_and_nothing_else() {
    let preview = spawn_preview().await;
    let repo = preview.data_dir.join("repos/demo-abc123.git");
    let object = format!("objects/ab/{}", "c".repeat(38));
    for (path, text) in [
        ("HEAD", "ref: refs/heads/main\n"),
        ("info/refs", "1111\trefs/heads/main\n"),
        ("objects/info/packs", ""),
        (object.as_str(), "zlib bytes"),
        ("config", "[core]\n\tbare = true\n"),
        ("hooks/post-update", "#!/bin/sh\n"),
    ] {
        let target = repo.join(path);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(target, text).unwrap();
    }
    let get = |path: String| preview.client.get(preview.pages_url(&path)).send();

    // git's first probe is the smart protocol's; a dumb server answers it
    // with the plain file, and git carries on with the dumb protocol.
    let refs = get("/git/demo-abc123.git/info/refs?service=git-upload-pack".into())
        .await
        .unwrap();
    assert_eq!(refs.status(), 200);
    assert_eq!(refs.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(refs.headers()["cache-control"], "no-cache");
    assert_eq!(refs.text().await.unwrap(), "1111\trefs/heads/main\n");

    let loose = get(format!("/git/demo-abc123.git/{object}")).await.unwrap();
    assert_eq!(loose.status(), 200);
    assert_eq!(
        loose.headers()["content-type"],
        "application/x-git-loose-object"
    );
    assert!(
        loose.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );

    for refused in [
        "/git/demo-abc123.git/config",
        "/git/demo-abc123.git/hooks/post-update",
        "/git/demo-abc123.git/objects/../config",
        "/git/demo-abc123.git/info/../config",
        "/git/other-abc123.git/HEAD",
        "/git/../repos/demo-abc123.git/config",
        "/git/demo-abc123/HEAD",
    ] {
        let (status, text) = preview.raw_get_pages(refused).await;
        assert!(matches!(status, 404 | 400), "{refused}: {status}");
        assert!(!text.contains("bare = true"), "{refused} leaked the config");
    }
}

#[tokio::test]
async fn the_pages_origin_has_its_own_health() {
    let preview = spawn_preview().await;
    let health = get_pages(&preview, "/health", None).await;
    assert_eq!(health.status(), 200);
}
