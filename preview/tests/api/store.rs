//! Bundles in an object store (BUNDLE_STORE_URL=s3://…): the preview has no
//! shared disk with the worker, fetches what it serves, and when the store
//! is down answers from its copies, or 503 for what it has none of.

use testkit::{TcpProxy, TestBucket};

use crate::helpers::{Options, spawn_preview_with};

#[tokio::test]
async fn bundles_come_from_the_store_and_only_missing_ones_are_503_while_it_is_down() {
    let Some(bucket) = TestBucket::new().await else {
        return;
    };
    let proxy = TcpProxy::start_for_url(&bucket.endpoint).await;
    let preview = spawn_preview_with(Options {
        env: bucket.env_via(proxy.addr(), "previews"),
        ..Options::default()
    })
    .await;
    // The worker, elsewhere: its own disk, the same bucket.
    let scratch = tempfile::tempdir().unwrap();
    let worker =
        pagesmith::bundle::Bundles::remote(scratch.path(), bucket.store(None), "previews", 1 << 30)
            .await;
    let seen = preview
        .create_version_in(
            &worker,
            &[
                ("index.html", b"<h1>Seen</h1>"),
                ("style.css", b"h1{color:red}"),
            ],
        )
        .await;
    let unseen = preview
        .create_version_in(&worker, &[("index.html", b"<h1>Unseen</h1>")])
        .await;
    let copy = preview
        .data_dir
        .join("bundle-cache/preview/bundles")
        .join(&seen.bundle);
    assert!(!copy.exists(), "nothing is shared with the worker's disk");

    let page = preview.get(&seen.live("index.html")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), "<h1>Seen</h1>");
    assert!(
        copy.join("content.bin").exists(),
        "fetched into the local cache"
    );

    proxy.cut();
    let page = preview.get(&seen.live("index.html")).await;
    assert_eq!(page.status(), 200, "a file served before, from memory");
    let style = preview.get(&seen.live("style.css")).await;
    assert_eq!(
        style.status(),
        200,
        "a file not served before, from the local copy"
    );
    assert_eq!(style.text().await.unwrap(), "h1{color:red}");
    let missing = preview.get(&unseen.live("index.html")).await;
    assert_eq!(missing.status(), 503, "not a 500, not a 404");
    assert!(missing.headers().contains_key("retry-after"));

    proxy.restore();
    let page = preview.get(&unseen.live("index.html")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), "<h1>Unseen</h1>");
}
