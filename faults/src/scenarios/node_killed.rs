//! Scenario 8: pagesmith spread over "hosts": one bot, two workers and two
//! previews, each with a `DATA_DIR` of its own, on a three-node RabbitMQ
//! cluster with quorum queues and bundles in an S3 store. `/app` tasks flow;
//! after the 8th callback the RabbitMQ node every process is connected to
//! (the first of `AMQP_URL`) is killed. Every job must be called back
//! exactly once, and every preview link served byte for byte the same by
//! both previews.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use testkit::TestBucket;
use tokio::time::Instant;

use super::{app_keys, compare_previews, count_tasks, post_all};
use crate::{
    Suite,
    report::Row,
    services::Cluster,
    system::{Options, System},
    wait,
};

pub async fn run(suite: &Suite) -> anyhow::Result<Row> {
    let started = Instant::now();
    let cluster = Cluster::default();
    let urls = cluster.up().await?;
    let bucket = TestBucket::new()
        .await
        .context("needs the S3 test server (scripts/faults starts it)")?;
    let mut env: Vec<(String, String)> = vec![
        ("AMQP_URL".into(), urls),
        ("AMQP_QUEUE_TYPE".into(), "quorum".into()),
    ];
    env.extend(
        bucket
            .env("faults")
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
    );
    // A slow LLM and one CPU slot per worker spread the callbacks out, so
    // most jobs are in flight (generating, bundling, publishing, calling
    // back) when the node dies.
    let options = Options {
        workers: 2,
        previews: 2,
        own_data_dirs: true,
        worker_concurrency: Some(1),
        llm_delay: Duration::from_millis(1500),
        env,
        ..Options::default()
    };
    let system = Arc::new(System::start(suite, "cluster", options).await?);
    let jobs = 30;
    let kill_after = 8;

    let keys = app_keys("cluster", jobs);
    let refused = post_all(&system, &keys).await;

    wait::until(Duration::from_secs(120), || async {
        system.evaluator.accepted().len() >= kill_after
    })
    .await
    .with_context(|| format!("{kill_after} callbacks did not arrive"))?;
    let called_back_at_kill = system.evaluator.accepted().len();
    let in_flight = jobs - called_back_at_kill;
    cluster.kill(1).await?;
    let killed_at = Instant::now();

    let counted = async {
        let tally = count_tasks(&system, keys, refused, Duration::from_secs(240)).await?;
        let recovered = killed_at.elapsed();
        let (links, differing) = compare_previews(&system).await?;
        anyhow::Ok((tally, recovered, links, differing))
    }
    .await;
    // Node 1 back for whatever runs next, whether or not counting worked.
    cluster.up().await?;
    let (mut tally, recovered, links, differing) = counted?;
    tally.problems.extend(differing);
    Ok(Row {
        scenario: "8. RabbitMQ node killed (cluster, S3, no shared disk)",
        load: format!(
            "{jobs} `/app` at once, LLM 1.5 s per call; 1 bot, 2 workers × 1 CPU slot, \
             2 previews, each its own DATA_DIR; 3-node cluster, quorum queues, S3 bundles"
        ),
        faults: format!(
            "node 1 (every process's first) SIGKILLed after callback {called_back_at_kill}, \
             {in_flight} jobs in flight; all settled {:.1} s later; {links} preview links \
             byte-identical on both previews",
            recovered.as_secs_f64()
        ),
        tally,
        took: started.elapsed(),
    })
}
