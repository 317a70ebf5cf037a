#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::as_conversions
)]
//! The store contract: one suite, run on both backends. Every case drives `Store` directly
//! and runs twice, on a fresh SQLite file (`sqlite::<case>`) and on a fresh PostgreSQL
//! database (`postgres::<case>`), so the two backends cannot drift apart.
//!
//! Run: `cargo nextest run --test store_contract` (PostgreSQL cases need
//! `PAYGATE_TEST_POSTGRES_URL`, e.g. `postgres://postgres@127.0.0.1:5432/test`).

mod harness;

mod deliveries;
mod events;
mod idempotency;
mod invariants;
mod migrations;
mod numbering;
mod parked;
mod reads;
mod reaping;
mod reconcile;
mod sqlite_full;
mod webhooks;

/// Declares each case once per backend. A case is `async fn(&harness::Db)`.
macro_rules! contract {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let db = crate::harness::Db::sqlite().await;
                    crate::$module::$case(&db).await;
                    db.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(db) = crate::harness::Db::postgres().await else { return };
                    crate::$module::$case(&db).await;
                    db.close().await;
                }
            )*
        }
    };
}

contract! {
    invariants::captures_never_exceed_the_amount,
    invariants::concurrent_refunds_on_two_replicas_never_exceed_the_captured_amount,
    invariants::void_only_before_any_capture,
    invariants::settled_operations_never_move_backwards,
    idempotency::concurrent_claims_of_one_key_start_exactly_once,
    idempotency::concurrent_operation_claims_start_exactly_once,
    idempotency::a_key_is_scoped_to_merchant_and_bound_to_its_parameters,
    idempotency::an_abandoned_call_leaves_nothing_and_its_retry_continues_under_the_same_ids,
    deliveries::the_cursor_starts_at_the_last_event_and_moves_once_under_racing_fan_outs,
    deliveries::concurrent_claims_never_hand_out_a_delivery_twice,
    deliveries::attempts_are_recorded_and_redelivery_starts_a_new_round,
    deliveries::pruning_keeps_pending_deliveries_and_events_no_cursor_has_passed,
    events::events_are_gap_free_and_in_commit_order_under_concurrent_writers,
    events::events_are_scoped_to_their_merchant,
    webhooks::concurrent_deliveries_of_one_event_apply_once,
    webhooks::late_webhooks_are_recorded_and_ignored,
    webhooks::one_event_id_is_taken_once_per_merchant,
    parked::a_parked_reversal_is_applied_once_when_the_open_refund_settles,
    parked::a_parked_event_is_tried_again_on_every_change_of_its_payment,
    parked::abandoning_the_open_refund_lets_a_parked_reversal_in,
    reaping::reaping_forgets_only_finished_keys_past_the_cutoff,
    reaping::reaping_never_forgets_the_key_of_an_unknown_operation,
    reaping::two_replicas_reaping_at_once_reap_each_key_once,
    reaping::pruning_deletes_old_events_and_numbering_continues,
    reconcile::concurrent_claims_never_hand_out_an_operation_twice,
    reconcile::claimed_operations_come_back_only_when_their_lease_ends,
    reconcile::a_live_call_s_lease_hides_its_operation_from_reconcilers,
    reads::reads_return_what_was_written,
    reads::listing_pages_newest_first_with_filters,
    reads::a_refund_keeps_its_split_and_reason,
    reads::payments_are_found_by_any_of_their_operation_references,
}
