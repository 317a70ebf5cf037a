//! The single writer task: batches queued jobs into one transaction (group commit).

use super::jobs::{self, JobError};
use crate::store::{StoreError, Write, Written};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot, watch};

/// Enough to absorb a burst; senders wait (back-pressure) beyond it.
pub(super) const QUEUE_DEPTH: usize = 4096;
/// Bounds a transaction's size so one commit never holds replies back for long.
const MAX_BATCH: usize = 256;

/// A commit slower than this is logged: it is what callers see as a latency spike.
const SLOW_COMMIT: std::time::Duration = std::time::Duration::from_millis(50);

pub(super) type Reply = oneshot::Sender<Result<Written, StoreError>>;

pub(super) enum Msg {
    /// Boxed: a job is large next to the other messages, and the channel holds many.
    Job(Box<Write>, Reply),
    /// Answers once the writer connection has answered: readiness includes the writer.
    Ping(oneshot::Sender<Result<(), StoreError>>),
    /// Finishes queued work, closes the connection, then acknowledges.
    Close(oneshot::Sender<()>),
}

pub(super) async fn run(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Msg>,
    committed: watch::Sender<u64>,
) {
    let mut batch: Vec<(Write, Reply)> = Vec::with_capacity(MAX_BATCH);
    let mut closing = None;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Job(job, reply) => batch.push((*job, reply)),
                Msg::Ping(reply) => {
                    let alive = sqlx::query("SELECT 1")
                        .execute(&mut conn)
                        .await
                        .map(|_| ())
                        .map_err(StoreError::from);
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
            committed.send_modify(|n| *n = n.wrapping_add(1));
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

/// Runs the batch in one IMMEDIATE transaction, commits once, and only then replies.
///
/// A job refused before writing (`Clean`) just reports its refusal. If a job fails after
/// writing (`Dirty`), the whole batch is rolled back and every job re-runs alone, so one
/// broken job cannot take its neighbours' writes down with it. If the commit fails, every
/// job reports it: nothing was written.
async fn commit_batch(conn: &mut SqliteConnection, batch: &mut Vec<(Write, Reply)>) {
    tracing::trace!(jobs = batch.len(), "group commit");
    if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
        let err = StoreError::from(e);
        tracing::error!(error = %err, "cannot start a write transaction");
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(Err(StoreError::Unavailable(err.to_string())));
        }
        return;
    }
    let mut results = Vec::with_capacity(batch.len());
    for (job, _) in batch.iter() {
        match jobs::execute(conn, job).await {
            Ok(written) => results.push(Ok(written)),
            Err(JobError::Clean(e)) => results.push(Err(e)),
            Err(JobError::Dirty(e)) => {
                tracing::warn!(error = %e, jobs = batch.len(), "a job failed mid-write; re-running the batch one job at a time");
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                for (job, reply) in batch.drain(..) {
                    let _ = reply.send(run_alone(conn, &job).await);
                }
                return;
            }
        }
    }
    let committing = tokio::time::Instant::now();
    let committed = sqlx::query("COMMIT").execute(&mut *conn).await;
    let took = committing.elapsed();
    if took > SLOW_COMMIT {
        tracing::warn!(
            took_ms = took.as_millis(),
            jobs = results.len(),
            "slow commit (fsync or checkpoint)"
        );
    }
    match committed {
        Ok(_) => {
            for ((_, reply), result) in batch.drain(..).zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let err = StoreError::from(e);
            tracing::error!(error = %err, "commit failed; the batch is rolled back");
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(StoreError::Unavailable(format!(
                    "commit failed: {err}"
                ))));
            }
        }
    }
}

/// One job in its own transaction: the slow path after a batch had to be rolled back.
async fn run_alone(conn: &mut SqliteConnection, job: &Write) -> Result<Written, StoreError> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    match jobs::execute(conn, job).await {
        Ok(written) => {
            if let Err(e) = sqlx::query("COMMIT").execute(&mut *conn).await {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                return Err(StoreError::Unavailable(format!("COMMIT failed: {e}")));
            }
            Ok(written)
        }
        Err(JobError::Clean(e) | JobError::Dirty(e)) => {
            // After some errors (a full disk, an I/O error) SQLite has already rolled the
            // whole transaction back, and this ROLLBACK fails with "no transaction is
            // active". The job's own error is the cause to report, not that.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}
