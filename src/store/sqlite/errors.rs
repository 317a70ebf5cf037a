//! Which SQLite errors mean "the database cannot take this right now" (UNAVAILABLE, safe to
//! retry) rather than "paygate has a bug" (INTERNAL).
//!
//! Decided by SQLite's result code, never by the message text: messages are English prose
//! that SQLite may reword, while the codes are a stable API. sqlx reports the *extended*
//! code (it calls `sqlite3_extended_errcode`, e.g. `778` = SQLITE_IOERR_WRITE), whose low
//! byte is the primary code (`778 & 0xff` = 10 = SQLITE_IOERR), so the primary code is what
//! is matched here and every extended variant of it follows.

use sqlx::error::DatabaseError;
use sqlx::sqlite::SqliteError;

/// Another connection holds the lock past the busy timeout.
const SQLITE_BUSY: i32 = 5;
/// A table is locked by this same connection or a shared cache.
const SQLITE_LOCKED: i32 = 6;
/// The file cannot be written: opened read-only, moved or deleted underneath, or a
/// read-only file system.
const SQLITE_READONLY: i32 = 8;
/// The operating system reported an I/O error (EIO, a write that failed, fsync, ...).
const SQLITE_IOERR: i32 = 10;
/// The disk (or the `max_page_count` ceiling) is full.
const SQLITE_FULL: i32 = 13;
/// The database, its journal or its WAL cannot be opened (permissions, missing directory).
const SQLITE_CANTOPEN: i32 = 14;
/// The WAL locking protocol lost a race too many times in a row.
const SQLITE_PROTOCOL: i32 = 15;

/// True if `err` says nothing was written because of the database's environment (a lock,
/// the disk, the file), not because of the request or paygate's SQL: constraint
/// violations, schema errors, corruption and misuse are not among them.
pub(in crate::store) fn is_unavailable(err: &SqliteError) -> bool {
    err.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(is_unavailable_code)
}

fn is_unavailable_code(extended: i32) -> bool {
    matches!(
        extended & 0xff,
        SQLITE_BUSY
            | SQLITE_LOCKED
            | SQLITE_READONLY
            | SQLITE_IOERR
            | SQLITE_FULL
            | SQLITE_CANTOPEN
            | SQLITE_PROTOCOL
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::store::StoreError;
    use sqlx::{ConnectOptions, Connection, SqliteConnection};

    #[test]
    fn extended_codes_follow_their_primary_code() {
        for (code, name) in [
            (5, "SQLITE_BUSY"),
            (5 | (2 << 8), "SQLITE_BUSY_SNAPSHOT"),
            (6, "SQLITE_LOCKED"),
            (8, "SQLITE_READONLY"),
            (8 | (4 << 8), "SQLITE_READONLY_DBMOVED"),
            (10, "SQLITE_IOERR"),
            (10 | (3 << 8), "SQLITE_IOERR_WRITE"),
            (10 | (13 << 8), "SQLITE_IOERR_NOMEM"),
            (13, "SQLITE_FULL"),
            (14, "SQLITE_CANTOPEN"),
            (15, "SQLITE_PROTOCOL"),
        ] {
            assert!(is_unavailable_code(code), "{name} ({code}) is an outage");
        }
        for (code, name) in [
            (1, "SQLITE_ERROR"),
            (11, "SQLITE_CORRUPT"),
            (19, "SQLITE_CONSTRAINT"),
            (19 | (8 << 8), "SQLITE_CONSTRAINT_UNIQUE"),
            (21, "SQLITE_MISUSE"),
            (26, "SQLITE_NOTADB"),
        ] {
            assert!(!is_unavailable_code(code), "{name} ({code}) is a bug");
        }
    }

    async fn memory() -> SqliteConnection {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    }

    /// A database that may not grow (`max_page_count`) fails a write with SQLITE_FULL, as a
    /// full disk does: the store must call that an outage.
    #[tokio::test]
    async fn a_full_database_is_unavailable() {
        let mut conn = memory().await;
        sqlx::query("PRAGMA max_page_count = 2")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut failure = None;
        for id in 0..100 {
            let insert = sqlx::query("INSERT INTO t (id, body) VALUES (?, ?)")
                .bind(id)
                .bind("x".repeat(1_000))
                .execute(&mut conn)
                .await;
            if let Err(e) = insert {
                failure = Some(e);
                break;
            }
        }
        let err = failure.expect("a two-page database must fill up");
        let code = err.as_database_error().and_then(|db| db.code());
        assert_eq!(code.as_deref(), Some("13"), "{err}");
        assert!(
            matches!(StoreError::from(err), StoreError::Unavailable(_)),
            "SQLITE_FULL must be Unavailable"
        );
    }

    #[tokio::test]
    async fn a_read_only_database_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.db");
        let url = format!("sqlite://{}", path.display());
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let mut conn = options
            .clone()
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let mut conn = options.read_only(true).connect().await.unwrap();
        let err = sqlx::query("INSERT INTO t (id) VALUES (1)")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(
            matches!(StoreError::from(err), StoreError::Unavailable(_)),
            "SQLITE_READONLY must be Unavailable"
        );
    }

    #[tokio::test]
    async fn a_database_that_cannot_be_opened_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("missing/dir/x.db").display());
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let err = options.create_if_missing(true).connect().await.unwrap_err();
        assert!(
            matches!(StoreError::from(err), StoreError::Unavailable(_)),
            "SQLITE_CANTOPEN must be Unavailable"
        );
    }

    #[tokio::test]
    async fn constraint_violations_stay_internal() {
        let mut conn = memory().await;
        let insert = "INSERT INTO t (id, body) VALUES (1, 'a')";
        sqlx::query(insert).execute(&mut conn).await.unwrap();
        let unique = sqlx::query(insert).execute(&mut conn).await.unwrap_err();
        assert!(matches!(StoreError::from(unique), StoreError::Internal(_)));
        let not_null = sqlx::query("INSERT INTO t (id, body) VALUES (2, NULL)")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(matches!(
            StoreError::from(not_null),
            StoreError::Internal(_)
        ));
        let syntax = sqlx::query("INSERT INTO nowhere VALUES (1)")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(matches!(StoreError::from(syntax), StoreError::Internal(_)));
    }
}
