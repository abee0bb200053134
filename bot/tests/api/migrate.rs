//! `bot migrate`, the binary itself: compose runs it once before the
//! services start, so it must apply every migration and exit 0, or exit
//! non-zero with the reason.

use std::process::Command;

use testkit::TestDb;

fn migrate(database_url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bot"))
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("AMQP_URL", "amqp://127.0.0.1:1/%2f")
        .env("APP_SECRET", "s")
        .env("TELEGRAM_BOT_TOKEN", "4242:test-token")
        .env("TELEGRAM_WEBHOOK_SECRET", "hook_secret")
        .output()
        .expect("bot runs")
}

#[tokio::test]
async fn migrate_applies_every_migration_and_exits() {
    let db = TestDb::empty().await;
    let output = migrate(&db.url);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    assert_eq!(applied as usize, files);

    // Again: nothing to do, still success.
    assert!(migrate(&db.url).status.success());
}

#[tokio::test]
async fn migrate_fails_loudly_without_its_database() {
    let db = TestDb::empty().await;
    let missing = db.url.replace(&db.name, "pagesmith_no_such_database");
    let output = migrate(&missing);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("migrations"), "{stderr}");
}
