//! Bundles in an S3-compatible store (moto's server, see
//! `scripts/lib.sh::ensure_s3`): written once, read by any process, cached
//! locally within a bound, and an unreachable store told apart from a
//! missing bundle.

use std::{path::Path, sync::Arc, time::Duration};

use object_store::{ObjectStore, ObjectStoreExt, path::Path as Key};
use pagesmith::{
    bundle::{BundleFile, Bundles, StoreError, View},
    domain::SitePath,
};
use sha2::{Digest, Sha256};
use testkit::{TcpProxy, TestBucket};

fn file(path: &str, bytes: impl Into<Vec<u8>>) -> BundleFile {
    BundleFile {
        path: SitePath::parse(path).unwrap(),
        bytes: bytes.into(),
    }
}

/// A site whose content is about `kib` KiB and differs by `seed`.
fn site(seed: &str, kib: usize) -> Vec<BundleFile> {
    let mut text = String::new();
    let mut block = Sha256::digest(seed.as_bytes());
    while text.len() < kib * 1024 {
        text.push_str(&hex::encode(block));
        block = Sha256::digest(block);
    }
    vec![
        file(
            "index.html",
            format!("<h1>{seed}</h1><script>go()</script>"),
        ),
        file("data.txt", text),
    ]
}

async fn reader(dir: &Path, store: Arc<dyn ObjectStore>, cache_bytes: u64) -> Bundles {
    Bundles::remote(dir, store, "sites", cache_bytes).await
}

fn on_disk(bundles: &Bundles, id: &str) -> bool {
    bundles.disk().bundle_dir(id).join("manifest.json").exists()
}

#[tokio::test]
async fn a_bundle_written_by_one_process_is_read_by_another_and_uploaded_once() {
    let Some(bucket) = TestBucket::new().await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let writer = reader(&scratch.path().join("w"), bucket.store(None), 1 << 30).await;
    let other = reader(&scratch.path().join("r"), bucket.store(None), 1 << 30).await;

    let written = writer.write(site("bakery", 8)).await.unwrap();
    let bundle = other.open(&written.id).await.unwrap();
    let page = String::from_utf8(bundle.read(View::Live, "index.html").unwrap()).unwrap();
    assert_eq!(page, "<h1>bakery</h1><script>go()</script>");
    let safe = String::from_utf8(bundle.read(View::Safe, "index.html").unwrap()).unwrap();
    assert!(
        !safe.contains("<script"),
        "the safe view travels too: {safe}"
    );
    assert_eq!(
        bundle.read(View::Live, "data.txt").unwrap(),
        site("bakery", 8)[1].bytes
    );

    let objects: Vec<String> = bucket
        .store(None)
        .list_with_delimiter(Some(&Key::from(format!("sites/bundles/{}", written.id))))
        .await
        .unwrap()
        .objects
        .into_iter()
        .map(|o| o.location.to_string())
        .collect();
    assert_eq!(objects.len(), 2, "content and manifest: {objects:?}");

    // A third process writing the same site uploads nothing.
    let manifest = Key::from(format!("sites/bundles/{}/manifest.json", written.id));
    let before = bucket.store(None).head(&manifest).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the store's 1 s clock
    let third = reader(&scratch.path().join("t"), bucket.store(None), 1 << 30).await;
    assert_eq!(third.write(site("bakery", 8)).await.unwrap(), written);
    let after = bucket.store(None).head(&manifest).await.unwrap();
    assert_eq!(
        before.last_modified, after.last_modified,
        "not written again"
    );
}

#[tokio::test]
async fn local_copies_stay_within_their_bound_least_recently_used_out_first() {
    let Some(bucket) = TestBucket::new().await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let writer = reader(&scratch.path().join("w"), bucket.store(None), 1 << 30).await;
    let mut ids = Vec::new();
    for seed in ["one", "two", "three"] {
        ids.push(writer.write(site(seed, 40)).await.unwrap().id);
    }

    // Room for two of the three (each is about 42 KiB).
    // (The cache applies recency in batches; settling after each open
    // makes the order exact, as time does in a running preview.)
    let cache = reader(&scratch.path().join("r"), bucket.store(None), 100 * 1024).await;
    for id in [&ids[0], &ids[1], &ids[0], &ids[2]] {
        cache.open(id).await.unwrap();
        cache.settle().await;
    }
    assert!(on_disk(&cache, &ids[0]));
    assert!(!on_disk(&cache, &ids[1]), "the least recently used went");
    assert!(on_disk(&cache, &ids[2]));

    // An evicted bundle is fetched again when asked for.
    let again = cache.open(&ids[1]).await.unwrap();
    assert!(again.read(View::Live, "data.txt").is_ok());

    // A restart keeps what is on disk, within the bound: a cache with room
    // for one keeps one.
    drop(cache);
    let restarted = reader(&scratch.path().join("r"), bucket.store(None), 50 * 1024).await;
    let kept = ids.iter().filter(|id| on_disk(&restarted, id)).count();
    assert_eq!(kept, 1);
}

#[tokio::test]
async fn with_the_store_down_cached_bundles_still_open_and_others_are_unavailable() {
    let Some(bucket) = TestBucket::new().await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let writer = reader(&scratch.path().join("w"), bucket.store(None), 1 << 30).await;
    let cached = writer.write(site("cached", 4)).await.unwrap().id;
    let uncached = writer.write(site("uncached", 4)).await.unwrap().id;

    let proxy = TcpProxy::start_for_url(&bucket.endpoint).await;
    let preview = reader(
        &scratch.path().join("r"),
        bucket.store(Some(proxy.addr())),
        1 << 30,
    )
    .await;
    preview.open(&cached).await.unwrap();
    proxy.cut();

    assert!(preview.open(&cached).await.is_ok(), "from memory");
    preview.forget(&cached).await;
    assert!(preview.open(&cached).await.is_ok(), "from the local copy");
    match preview.open(&uncached).await {
        Err(StoreError::Unavailable(why)) => assert!(!why.is_empty()),
        other => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
    }
    let worker = reader(
        &scratch.path().join("w2"),
        bucket.store(Some(proxy.addr())),
        1 << 30,
    )
    .await;
    assert!(matches!(
        worker.write(site("new", 1)).await,
        Err(StoreError::Unavailable(_))
    ));

    // Back up: the same calls succeed.
    proxy.restore();
    assert!(preview.open(&uncached).await.is_ok());
    assert!(worker.write(site("new", 1)).await.is_ok());
}

#[tokio::test]
async fn a_bundle_the_store_lacks_is_missing_and_a_corrupt_one_is_refused() {
    let Some(bucket) = TestBucket::new().await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let store = bucket.store(None);
    let writer = reader(&scratch.path().join("w"), store.clone(), 1 << 30).await;
    let id = writer.write(site("corrupt", 2)).await.unwrap().id;

    let preview = reader(&scratch.path().join("r"), store.clone(), 1 << 30).await;
    assert!(matches!(
        preview.open(&"0".repeat(64)).await,
        Err(StoreError::Missing(_))
    ));

    // Same length, one byte changed.
    let content = Key::from(format!("sites/bundles/{id}/content.bin"));
    let mut bytes = store
        .get(&content)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    store.put(&content, bytes.into()).await.unwrap();
    match preview.open(&id).await {
        Err(StoreError::Io(e)) => assert!(e.to_string().contains("does not match its hash"), "{e}"),
        other => panic!("expected a refused download, got {:?}", other.map(|_| ())),
    }
    assert!(!on_disk(&preview, &id), "nothing corrupt is left to serve");
}

#[tokio::test]
async fn a_bundle_larger_than_the_whole_cache_is_kept_and_served() {
    let Some(bucket) = TestBucket::new().await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let writer = reader(&scratch.path().join("w"), bucket.store(None), 1 << 30).await;
    let id = writer.write(site("huge", 40)).await.unwrap().id;

    // 10 KiB of cache for a 40 KiB bundle.
    let small = reader(&scratch.path().join("r"), bucket.store(None), 10 * 1024).await;
    let bundle = small.open(&id).await.unwrap();
    small.settle().await;
    assert!(
        on_disk(&small, &id),
        "not deleted under the request that fetched it"
    );
    assert_eq!(
        bundle.read(View::Live, "data.txt").unwrap(),
        site("huge", 40)[1].bytes
    );
}

#[tokio::test]
async fn an_id_that_is_not_a_bundle_hash_is_never_a_path() {
    let scratch = tempfile::tempdir().unwrap();
    let bundles = Bundles::on_disk(scratch.path());
    for id in ["../etc", "", "ABC", &"g".repeat(64)] {
        assert!(
            matches!(bundles.open(id).await, Err(StoreError::Missing(_))),
            "{id:?}"
        );
    }
}
