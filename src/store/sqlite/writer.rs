//! The single writer task: batches queued jobs into one transaction (group commit).

use super::jobs;
use crate::store::{StoreError, Write, Written};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

/// Enough to absorb a burst; senders wait (back-pressure) beyond it.
pub(super) const QUEUE_DEPTH: usize = 4096;
/// Bounds a transaction's size so one commit never holds replies back for long.
const MAX_BATCH: usize = 256;

pub(super) type Reply = oneshot::Sender<Result<Written, StoreError>>;

pub(super) enum Msg {
    Job(Write, Reply),
    /// Answers once the writer connection has answered: readiness includes the writer.
    Ping(oneshot::Sender<Result<(), StoreError>>),
    /// Finishes queued work, closes the connection, then acknowledges.
    Close(oneshot::Sender<()>),
}

pub(super) async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<(Write, Reply)> = Vec::with_capacity(MAX_BATCH);
    let mut closing = None;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Job(job, reply) => batch.push((job, reply)),
                Msg::Ping(reply) => {
                    let alive = sqlx::query("SELECT 1").execute(&mut conn).await.map(|_| ()).map_err(StoreError::from);
                    let _ = reply.send(alive);
                }
                Msg::Close(reply) => closing = Some(reply),
            }
            if batch.len() < MAX_BATCH && closing.is_none() {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, &mut batch).await;
        }
        if let Some(reply) = closing.take() {
            rx.close();
            while let Ok(msg) = rx.try_recv() {
                if let Msg::Job(_, r) = msg {
                    let _ = r.send(Err(StoreError::Unavailable("shutting down".into())));
                }
            }
            let _ = conn.close().await;
            let _ = reply.send(());
            return;
        }
    }
}

/// Runs every job in its own savepoint inside one IMMEDIATE transaction, commits once, and
/// only then replies. If the commit fails, every job in the batch reports the failure.
async fn commit_batch(conn: &mut SqliteConnection, batch: &mut Vec<(Write, Reply)>) {
    if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
        let err = StoreError::from(e);
        tracing::error!(error = %err, "cannot start a write transaction");
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(Err(StoreError::Unavailable(err.to_string())));
        }
        return;
    }
    let mut results = Vec::with_capacity(batch.len());
    for (job, reply) in batch.drain(..) {
        let result = run_in_savepoint(conn, job).await;
        results.push((result, reply));
    }
    match sqlx::query("COMMIT").execute(&mut *conn).await {
        Ok(_) => {
            for (result, reply) in results {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let err = StoreError::from(e);
            tracing::error!(error = %err, "commit failed; the batch is rolled back");
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            for (_, reply) in results {
                let _ = reply.send(Err(StoreError::Unavailable(format!("commit failed: {err}"))));
            }
        }
    }
}

async fn run_in_savepoint(conn: &mut SqliteConnection, job: Write) -> Result<Written, StoreError> {
    sqlx::query("SAVEPOINT job").execute(&mut *conn).await?;
    let result = jobs::execute(conn, job).await;
    if result.is_err() {
        sqlx::query("ROLLBACK TO job").execute(&mut *conn).await?;
    }
    sqlx::query("RELEASE job").execute(&mut *conn).await?;
    result
}
