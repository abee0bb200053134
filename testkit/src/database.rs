//! A fresh, migrated database per test, dropped when the test ends.

use sqlx::{Connection, PgConnection, PgPool, postgres::PgConnectOptions};

/// A database that exists for one test.
pub struct TestDb {
    pub name: String,
    /// URL of this database.
    pub url: String,
    /// A pool on it, for assertions.
    pub pool: PgPool,
    server_url: String,
}

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The URL of `database` on the server of `server`.
fn with_database(server: &str, database: &str) -> String {
    let (base, _) = server
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL names a database");
    format!("{base}/{database}")
}

impl TestDb {
    /// Creates an empty database with every migration applied.
    pub async fn new() -> Self {
        let db = Self::empty().await;
        pagesmith::db::MIGRATOR
            .run(&db.pool)
            .await
            .expect("migrations apply");
        db
    }

    /// Creates an empty database without the schema (to test migrations).
    pub async fn empty() -> Self {
        let server_url = server_url();
        let name = format!("pagesmith_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server_url).await.expect(
            "PostgreSQL is reachable at TEST_DATABASE_URL (run the tests through scripts/test)",
        );
        sqlx::query(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut admin)
            .await
            .expect("test database created");
        let url = with_database(&server_url, &name);
        let options: PgConnectOptions = url.parse().expect("valid URL");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .expect("test database reachable");
        Self {
            name,
            url,
            pool,
            server_url,
        }
    }

    /// This database's URL with host and port replaced, to route it through
    /// a [`crate::TcpProxy`].
    pub fn url_via(&self, addr: std::net::SocketAddr) -> String {
        crate::with_address(&self.url, addr)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        crate::block_on_detached(async move {
            if let Ok(mut admin) = PgConnection::connect(&server_url).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                )))
                .execute(&mut admin)
                .await;
            }
        });
    }
}
