//! Scenario 9: the object store holding the bundles goes away for 30 s
//! while `/app` tasks arrive. Two workers and two previews, each with a
//! `DATA_DIR` of its own. Jobs retry until the store is back; meanwhile a
//! preview keeps serving the bundles it has a copy of and answers 503 (not
//! 500, not 404) for the others. Every job is called back exactly once.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use testkit::{TcpProxy, TestBucket};
use tokio::time::Instant;

use super::{app_keys, compare_previews, count_tasks, post_all};
use crate::{
    Suite,
    report::Row,
    system::{Options, System},
};

pub async fn run(suite: &Suite) -> anyhow::Result<Row> {
    let started = Instant::now();
    let bucket = TestBucket::new()
        .await
        .context("needs the S3 test server (scripts/faults starts it)")?;
    let proxy = TcpProxy::start_for_url(&bucket.endpoint).await;
    let options = Options {
        workers: 2,
        previews: 2,
        own_data_dirs: true,
        env: bucket
            .env_via(proxy.addr(), "faults")
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        ..Options::default()
    };
    let system = Arc::new(System::start(suite, "store", options).await?);

    // One site before the outage, seen through the first preview only.
    let warm = app_keys("store-warm", 1);
    let warm_refused = post_all(&system, &warm).await;
    let warmed_up = count_tasks(&system, warm.clone(), 0, Duration::from_secs(120)).await?;
    anyhow::ensure!(
        warm_refused == 0 && warmed_up.completed == 1,
        "the warm-up site did not complete: {warmed_up:?}"
    );
    let token: String = sqlx::query_scalar("SELECT preview_token FROM versions LIMIT 1")
        .fetch_one(&system.pool)
        .await
        .context("the warm-up site has no version")?;
    let link =
        |preview: usize, path: &str| format!("{}/p/{token}/{path}", system.preview_urls[preview]);
    let status = |url: String| {
        let system = system.clone();
        async move {
            system
                .client
                .get(url)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    let warmed = status(link(0, "index.html")).await;

    let outage = Duration::from_secs(30);
    proxy.cut();
    let cut_at = Instant::now();
    // A file the first preview has not served (so not in its memory): from
    // its local copy of the bundle.
    let cached = status(link(0, "README.md")).await;
    let uncached = status(link(1, "index.html")).await;
    let jobs = suite.scale.pick(6, 20);
    let keys = app_keys("store", jobs);
    let refused = post_all(&system, &keys).await;
    tokio::time::sleep(outage.saturating_sub(cut_at.elapsed())).await;
    proxy.restore();
    let all: Vec<_> = warm.into_iter().chain(keys).collect();
    let mut tally = count_tasks(&system, all, refused, Duration::from_secs(300)).await?;
    for (what, got, want) in [
        ("the warm-up link before the outage", warmed, 200),
        (
            "a file of a cached bundle, not yet served, during the outage",
            cached,
            200,
        ),
        ("an uncached link during the outage", uncached, 503),
    ] {
        if got != want {
            tally
                .problems
                .push(format!("{what} answered {got}, expected {want}"));
        }
    }
    let (links, differing) = compare_previews(&system).await?;
    tally.problems.extend(differing);
    Ok(Row {
        scenario: "9. Object store down",
        load: format!(
            "1 `/app`, then {jobs} at once during the outage; 2 workers, 2 previews, own DATA_DIRs"
        ),
        faults: format!(
            "S3 store unreachable for {:.0} s; during it an unserved file of a cached bundle answered {cached} and an \
             uncached one {uncached}; after it {links} links byte-identical on both previews",
            outage.as_secs_f64()
        ),
        tally,
        took: started.elapsed(),
    })
}
