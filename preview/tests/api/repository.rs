//! A repository's address (`/git/{repo}.git`, what the local publisher
//! hands out as `repo_url`): a page for a browser, `git clone` for git.

use crate::helpers::{TestPreview, spawn_preview};

const REPO: &str = "demo-abc123";
/// Untrusted text in every place the page shows: a file name, a message.
const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)>.html";
const MESSAGE: &str = "Round 1: <script>alert(\"x\")</script> & more\n\nBody line.";

/// `repos/{REPO}.git` as the local publisher leaves it: a bare repository,
/// loose objects, one commit on `main`, the dumb-protocol files written.
/// Returns the commit's sha.
fn commit_repository(preview: &TestPreview, files: &[(&str, &str)]) -> String {
    let bare = preview.data_dir.join(format!("repos/{REPO}.git"));
    std::fs::create_dir_all(&bare).unwrap();
    testkit::git(&bare, &["init", "-q", "--bare", "-b", "main", "."]);
    let work = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let target = work.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, text).unwrap();
    }
    let git_dir = format!("--git-dir={}", bare.display());
    let work_tree = format!("--work-tree={}", work.path().display());
    let with_repo =
        |args: &[&str]| testkit::git(&bare, &[&[&*git_dir, &*work_tree], args].concat());
    with_repo(&["add", "-A"]);
    with_repo(&[
        "-c",
        "user.name=pagesmith",
        "-c",
        "user.email=pagesmith@localhost",
        "commit",
        "-q",
        "-m",
        MESSAGE,
    ]);
    testkit::git(&bare, &["update-server-info"]);
    testkit::git(&bare, &["rev-parse", "HEAD"])
}

#[tokio::test]
async fn a_repository_address_shows_its_latest_commit_to_a_browser() {
    let preview = spawn_preview().await;
    let sha = commit_repository(
        &preview,
        &[
            ("index.html", "<h1>Hello</h1>\n"),
            ("data/table.csv", "a,b\n1,2\n"),
            (HOSTILE_NAME, "x"),
        ],
    );
    let repo_url = preview.pages_url(&format!("/git/{REPO}.git"));

    for address in [repo_url.clone(), format!("{repo_url}/")] {
        let page = preview.client.get(&address).send().await.unwrap();
        assert_eq!(page.status(), 200, "{address}");
        let headers = page.headers().clone();
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(headers.get("set-cookie").is_none());
        let html = page.text().await.unwrap();

        for expected in [
            format!("<h1>{REPO}</h1>"),
            format!("<code>{sha}</code>"),
            "2025-03-01 12:00:00 UTC".to_owned(),
            "Round 1: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more".to_owned(),
            "Body line.".to_owned(),
            "data/table.csv".to_owned(),
            "8 bytes".to_owned(),
            "15 bytes".to_owned(),
            "&lt;img src=x onerror=alert(1)&gt;.html".to_owned(),
            format!("href=\"/{REPO}/\""),
            format!("git clone {repo_url}"),
        ] {
            assert!(html.contains(&expected), "{address}: {expected} in {html}");
        }
        for hostile in ["<script>", "<img src=x"] {
            assert!(!html.contains(hostile), "{address}: {hostile} unescaped");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_repository_address_still_clones_with_git() {
    let preview = spawn_preview().await;
    let sha = commit_repository(&preview, &[("index.html", "<h1>Hello</h1>\n")]);
    let repo_url = preview.pages_url(&format!("/git/{REPO}.git"));
    let scratch = tempfile::tempdir().unwrap();

    testkit::git_async(scratch.path(), &["clone", "-q", &repo_url, "site"]).await;

    let site = scratch.path().join("site");
    assert_eq!(testkit::git(&site, &["rev-parse", "HEAD"]), sha);
    assert_eq!(
        std::fs::read_to_string(site.join("index.html")).unwrap(),
        "<h1>Hello</h1>\n"
    );
}

#[tokio::test]
async fn an_address_that_is_no_repository_is_not_found() {
    let preview = spawn_preview().await;
    commit_repository(&preview, &[("index.html", "hi")]);
    // A directory that is not a repository, and a link to one.
    std::fs::create_dir_all(preview.data_dir.join("repos/empty-abc123.git")).unwrap();
    std::os::unix::fs::symlink(
        preview.data_dir.join(format!("repos/{REPO}.git")),
        preview.data_dir.join("repos/link-abc123.git"),
    )
    .unwrap();

    for address in [
        "/git/other-abc123.git",
        "/git/other-abc123.git/",
        "/git/empty-abc123.git",
        "/git/link-abc123.git",
        "/git/Demo-abc123.git",
        "/git/.git",
        "/git/demo-abc123",
        "/git/demo-abc123.git/.git",
        "/git/../repos/demo-abc123.git",
    ] {
        let (status, text) = preview.raw_get_pages(address).await;
        assert!(matches!(status, 404 | 400), "{address}: {status}");
        assert!(!text.contains("git clone"), "{address}: {text}");
    }
}

#[tokio::test]
async fn a_repository_page_says_what_it_cannot_show() {
    let preview = spawn_preview().await;
    let empty = preview.data_dir.join("repos/empty-abc123.git");
    std::fs::create_dir_all(&empty).unwrap();
    testkit::git(&empty, &["init", "-q", "--bare", "-b", "main", "."]);
    // Packed objects: the local publisher writes none, `git gc` would.
    commit_repository(&preview, &[("index.html", "hi")]);
    testkit::git(
        &preview.data_dir.join(format!("repos/{REPO}.git")),
        &["gc", "-q"],
    );

    for (repo, says) in [
        ("empty-abc123", "No commit yet."),
        (REPO, "The latest commit could not be read."),
    ] {
        let page = preview
            .client
            .get(preview.pages_url(&format!("/git/{repo}.git")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{repo}");
        let html = page.text().await.unwrap();
        assert!(html.contains(says), "{repo}: {html}");
        assert!(html.contains(&format!("/git/{repo}.git</code>")), "{html}");
    }
}
