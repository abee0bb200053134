use std::time::Duration;

use futures::future::join_all;
use pagesmith::domain::WorkQueue;
use reqwest::StatusCode;

use crate::helpers::{Options, spawn_bot_with, text_update};

#[tokio::test]
async fn updates_are_accepted_while_the_broker_is_away_and_all_published_when_it_returns() {
    let bot = spawn_bot_with(Options {
        proxy_broker: true,
        ..Options::default()
    })
    .await;
    let proxy = bot.broker_proxy.as_ref().unwrap();
    // Let the relay connect first, so the cut breaks a live connection.
    testkit::eventually("relay connected", Duration::from_secs(10), || async {
        (bot.get("/health").await.status() == StatusCode::OK).then_some(())
    })
    .await;
    proxy.cut();

    let updates: Vec<_> = (0..50)
        .map(|i| text_update(9000 + i, 10, "A site sent while offline"))
        .collect();
    let statuses = join_all(updates.iter().map(|u| bot.post_update(u))).await;
    assert!(
        statuses.iter().all(|r| r.status() == StatusCode::OK),
        "ingress keeps accepting"
    );
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 50);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        bot.broker.ready(&bot.queue(WorkQueue::Jobs)).await,
        0,
        "nothing reached the broker"
    );
    assert_eq!(bot.count("SELECT count(*) FROM outbox").await, 50);

    proxy.restore();
    let messages = bot.take(WorkQueue::Jobs, 50).await;
    assert_eq!(
        messages.len(),
        50,
        "the backlog drained once the broker returned"
    );
    testkit::eventually("outbox marked sent", Duration::from_secs(10), || async {
        (bot.count("SELECT count(*) FROM outbox").await == 0).then_some(())
    })
    .await;
}
