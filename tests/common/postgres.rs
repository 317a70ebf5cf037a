//! A fresh PostgreSQL database per test, shared by the test binaries (`#[path]`-included).
//!
//! `PAYGATE_TEST_POSTGRES_URL` names a server where the user may CREATE DATABASE; each test
//! creates `paygate_test_<random>` and the guard drops it, also when the test fails. Without
//! the variable the caller is told to skip (after a line on stderr saying so), unless
//! `PAYGATE_REQUIRE_POSTGRES=1` (CI), where it fails.

use sqlx::Connection;

/// A database created for one test on the server named by `PAYGATE_TEST_POSTGRES_URL`, dropped
/// (WITH FORCE, so open pools do not block it) when the guard is dropped.
pub struct PgDatabase {
    pub url: String,
    pub admin_url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> Option<PgDatabase> {
        let admin_url = match std::env::var("PAYGATE_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                if std::env::var("PAYGATE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!(
                        "PAYGATE_REQUIRE_POSTGRES=1 but PAYGATE_TEST_POSTGRES_URL is not set: \
                         the PostgreSQL tests must run"
                    );
                }
                eprintln!("PostgreSQL tests did not run: PAYGATE_TEST_POSTGRES_URL is not set");
                return None;
            }
        };
        let name = format!("paygate_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "connecting to PAYGATE_TEST_POSTGRES_URL {}: {e}",
                    paygate::store::redact_url(&admin_url)
                )
            });
        // The name is ours (a fixed prefix and hex digits), not input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        let mut url = reqwest::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        Some(PgDatabase {
            url: url.to_string(),
            admin_url,
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // Drop cannot await, and may run while a panic unwinds inside the test's runtime: a
        // thread with its own small runtime does the dropping.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {done:?}", self.name);
        }
    }
}
