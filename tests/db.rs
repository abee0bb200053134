//! The shared database layer against a real PostgreSQL.

use std::time::Duration;

use pagesmith::db::{self, outbox};
use testkit::TestDb;
use uuid::Uuid;

async fn insert_job_with_outbox_row(pool: &sqlx::PgPool) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO jobs (id, kind, source, payload) VALUES ($1, 'generate', 'app', '{\"type\":\"app\"}')")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO outbox (job_id, queue, payload) VALUES ($1, 'jobs', '{}')")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn rows_locked_by_a_relay_that_dies_are_available_again_at_once() {
    let db = TestDb::new().await;
    let job = insert_job_with_outbox_row(&db.pool).await;

    let mut relay = db.pool.begin().await.unwrap();
    let locked = outbox::lock_pending(&mut relay, 10).await.unwrap();
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].job_id, job);

    let mut other = db.pool.begin().await.unwrap();
    assert!(
        outbox::lock_pending(&mut other, 10)
            .await
            .unwrap()
            .is_empty(),
        "a row being published is not handed to a second relay"
    );
    other.rollback().await.unwrap();

    // The first relay dies before confirming: its transaction goes away
    // (the rollback reaches the server a moment later).
    drop(relay);
    let (mut other, again) = testkit::eventually(
        "the row to be unlocked",
        Duration::from_secs(10),
        || async {
            let mut tx = db.pool.begin().await.unwrap();
            let rows = outbox::lock_pending(&mut tx, 10).await.unwrap();
            (!rows.is_empty()).then_some((tx, rows))
        },
    )
    .await;
    assert_eq!(again.len(), 1, "the unconfirmed row is published again");
    outbox::mark_sent(&mut other, &[again[0].id]).await.unwrap();
    other.commit().await.unwrap();
    assert_eq!(outbox::backlog(&db.pool).await.unwrap(), 0);
}

#[tokio::test]
async fn a_released_row_waits_for_its_delay_and_keeps_its_error() {
    let db = TestDb::new().await;
    insert_job_with_outbox_row(&db.pool).await;
    let mut tx = db.pool.begin().await.unwrap();
    let locked = outbox::lock_pending(&mut tx, 10).await.unwrap();
    outbox::release(
        &mut tx,
        &[locked[0].id],
        Duration::from_millis(300),
        "NO_ROUTE",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.pool.begin().await.unwrap();
    assert!(outbox::lock_pending(&mut tx, 10).await.unwrap().is_empty());
    tx.rollback().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut tx = db.pool.begin().await.unwrap();
    assert_eq!(outbox::lock_pending(&mut tx, 10).await.unwrap().len(), 1);
    tx.rollback().await.unwrap();
    let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM outbox")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(error.as_deref(), Some("NO_ROUTE"));
}

#[tokio::test]
async fn several_processes_migrating_at_once_all_succeed() {
    let db = TestDb::empty().await;
    let pools: Vec<_> = (0..4)
        .map(|_| db::pool(&db.url.clone().into(), 2).unwrap())
        .collect();
    let results = futures::future::join_all(
        pools
            .iter()
            .map(|p| db::migrate(p, Duration::from_secs(10))),
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(applied as usize, db::MIGRATOR.iter().count());
}

#[tokio::test]
async fn unreachable_databases_are_classified_as_unavailable() {
    // Nothing listens on port 9 of loopback.
    let pool = db::pool(&"postgres://postgres@127.0.0.1:9/x".to_owned().into(), 1).unwrap();
    let err = db::ping(&pool).await.unwrap_err();
    assert!(db::is_unavailable(&err), "{err:?}");

    let db = TestDb::new().await;
    let err = sqlx::query("SELECT * FROM no_such_table")
        .execute(&db.pool)
        .await
        .unwrap_err();
    assert!(!db::is_unavailable(&err), "a bad query is not an outage");
}
