#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::domain::{Currency, Money};

/// The refund under test was created at this instant (2026-11-27 10:00:00 UTC).
const CREATED: i64 = 1_795_773_600_000_000;
const HOUR: i64 = 3_600 * 1_000_000;

fn mad(minor: i64) -> Money {
    Money::new(minor, Currency::parse("MAD").unwrap()).unwrap()
}

fn refund(minor: i64, status: OperationStatus, reference: Option<&str>) -> Operation {
    let mut op = Operation::new(
        OperationKind::Refund,
        mad(minor),
        false,
        Timestamp::from_micros(CREATED),
    );
    op.status = status;
    op.provider_reference = reference.map(str::to_owned);
    op
}

fn lost(minor: i64) -> Operation {
    refund(minor, OperationStatus::Unknown, None)
}

/// A credit line: `stat`, amount, TransId, and its time relative to the refund's creation.
fn credit(stat: &str, minor: i64, trans_id: &str, offset: Option<i64>) -> Trx {
    Trx {
        charge_type: "C".into(),
        trans_stat: stat.into(),
        orig_amount: Some(minor),
        capture_amount: Some(minor),
        made_at_wall_clock: offset.map(|o| Timestamp::from_micros(CREATED + o)),
        proc_return_code: "00".into(),
        trans_id: trans_id.into(),
    }
}

fn ok(minor: i64, trans_id: &str) -> Trx {
    // CMI's clock on Morocco's time (UTC+1) a few seconds after the request.
    credit("S", minor, trans_id, Some(HOUR + 3_000_000))
}

fn sale(minor: i64) -> Trx {
    Trx {
        charge_type: "S".into(),
        ..credit("S", minor, "SALE", None)
    }
}

fn applied(trans_id: &str) -> RefundMatch {
    RefundMatch::Applied {
        trans_id: trans_id.into(),
    }
}

fn ambiguous(why: Ambiguity) -> RefundMatch {
    RefundMatch::Ambiguous(why)
}

#[test]
fn the_one_credit_of_exactly_this_amount_is_this_refund() {
    let op = lost(2_500);
    let history = [ok(2_500, "T2"), sale(15_000)];
    assert_eq!(
        match_refund(&history, std::slice::from_ref(&op), &op),
        applied("T2")
    );
}

#[test]
fn credits_of_other_amounts_and_sales_never_confirm_a_refund() {
    let op = lost(4_000);
    // A Merchant Center refund of 10.00, the sale itself of 40.00, a credit one centime off.
    let history = [ok(1_000, "MC"), sale(4_000), ok(4_001, "T3")];
    assert_eq!(
        match_refund(&history, std::slice::from_ref(&op), &op),
        RefundMatch::NotApplied
    );
}

#[test]
fn a_credit_attributed_to_a_succeeded_refund_is_never_attributed_again() {
    let done = refund(2_500, OperationStatus::Succeeded, Some("T1"));
    let op = lost(2_500);
    let ops = [done.clone(), op.clone()];
    assert_eq!(
        match_refund(&[ok(2_500, "T1")], &ops, &op),
        RefundMatch::NotApplied
    );
    // Its own credit next to the attributed one is found.
    assert_eq!(
        match_refund(&[ok(2_500, "T2"), ok(2_500, "T1")], &ops, &op),
        applied("T2")
    );
}

#[test]
fn several_matching_credits_are_ambiguous() {
    let op = lost(2_500);
    let history = [ok(2_500, "T2"), ok(2_500, "MC")];
    assert_eq!(
        match_refund(&history, std::slice::from_ref(&op), &op),
        ambiguous(Ambiguity::SeveralCandidates(2))
    );
}

#[test]
fn another_open_refund_of_the_same_amount_makes_the_credit_ambiguous() {
    let op = lost(2_500);
    let other = refund(2_500, OperationStatus::Pending, None);
    let ops = [op.clone(), other.clone()];
    assert_eq!(
        match_refund(&[ok(2_500, "T2")], &ops, &op),
        ambiguous(Ambiguity::CompetingRefund(other.id))
    );
    // ...as does a succeeded one for which CMI returned no TransId to record.
    let unreferenced = refund(2_500, OperationStatus::Succeeded, None);
    let ops = [op.clone(), unreferenced.clone()];
    assert_eq!(
        match_refund(&[ok(2_500, "T2")], &ops, &op),
        ambiguous(Ambiguity::CompetingRefund(unreferenced.id))
    );
    // An open refund CMI gave another TransId, or a failed one, cannot claim it.
    let elsewhere = refund(2_500, OperationStatus::Unknown, Some("T9"));
    let failed = refund(2_500, OperationStatus::Failed, None);
    let ops = [op.clone(), elsewhere, failed];
    assert_eq!(match_refund(&[ok(2_500, "T2")], &ops, &op), applied("T2"));
}

#[test]
fn of_two_lost_refunds_of_different_amounts_only_the_applied_one_matches() {
    let (a, b) = (lost(2_000), lost(3_000));
    let ops = [a.clone(), b.clone()];
    let history = [ok(3_000, "T3"), sale(15_000)];
    assert_eq!(match_refund(&history, &ops, &a), RefundMatch::NotApplied);
    assert_eq!(match_refund(&history, &ops, &b), applied("T3"));
}

#[test]
fn the_credit_time_excludes_credits_made_before_the_refund_only_with_a_margin() {
    let op = lost(2_500);
    let ops = std::slice::from_ref(&op);
    let at = |offset| [credit("S", 2_500, "MC", offset)];
    // Two days before: no time zone explains it, it is not this refund.
    assert_eq!(
        match_refund(&at(Some(-48 * HOUR)), ops, &op),
        RefundMatch::NotApplied
    );
    // Hours before: most likely a Merchant Center refund, but CMI's zone is unverified.
    assert_eq!(
        match_refund(&at(Some(-3 * HOUR)), ops, &op),
        ambiguous(Ambiguity::DatedBeforeTheRefund)
    );
    // Within the clock tolerance, after creation, or undated: nothing rules it out.
    for offset in [Some(-60_000_000), Some(0), Some(2 * HOUR), None] {
        assert_eq!(
            match_refund(&at(offset), ops, &op),
            applied("MC"),
            "{offset:?}"
        );
    }
    // A candidate next to an earlier credit of the same amount: two could be it.
    let history = [ok(2_500, "T2"), credit("S", 2_500, "MC", Some(-3 * HOUR))];
    assert_eq!(
        match_refund(&history, ops, &op),
        ambiguous(Ambiguity::SeveralCandidates(2))
    );
}

#[test]
fn failed_credits_moved_no_money_and_unreadable_ones_are_ambiguous() {
    let op = lost(2_500);
    let ops = std::slice::from_ref(&op);
    for stat in ["D", "ERR", "V", "CNCL"] {
        let history = [credit(stat, 2_500, "T2", Some(HOUR))];
        assert_eq!(
            match_refund(&history, ops, &op),
            RefundMatch::NotApplied,
            "{stat}"
        );
    }
    for stat in ["R", "PN", "", "X"] {
        let history = [credit(stat, 2_500, "T2", Some(HOUR))];
        assert_eq!(
            match_refund(&history, ops, &op),
            ambiguous(Ambiguity::UnreadableCredit),
            "{stat:?}"
        );
    }
    let mut odd = ok(2_500, "T2");
    odd.capture_amount = Some(1_000);
    assert_eq!(
        match_refund(&[odd], ops, &op),
        ambiguous(Ambiguity::UnreadableCredit)
    );
    assert_eq!(
        match_refund(&[ok(2_500, "")], ops, &op),
        ambiguous(Ambiguity::UnreadableCredit),
        "no TransId to record"
    );
}

#[test]
fn a_recorded_trans_id_decides_alone() {
    let op = refund(2_500, OperationStatus::Unknown, Some("T2"));
    let ops = std::slice::from_ref(&op);
    // Another credit of the same amount does not matter: CMI said which one is this.
    let history = [ok(2_500, "MC"), ok(2_500, "T2")];
    assert_eq!(match_refund(&history, ops, &op), applied("T2"));
    assert_eq!(
        match_refund(&[credit("D", 2_500, "T2", None)], ops, &op),
        RefundMatch::NotApplied
    );
    assert_eq!(
        match_refund(&[ok(2_500, "MC")], ops, &op),
        ambiguous(Ambiguity::RecordedCreditNotShown)
    );
    assert_eq!(
        match_refund(&[ok(2_400, "T2")], ops, &op),
        ambiguous(Ambiguity::RecordedCreditNotShown)
    );
}

#[test]
fn an_empty_history_means_cmi_never_applied_it() {
    let op = lost(2_500);
    assert_eq!(
        match_refund(&[], std::slice::from_ref(&op), &op),
        RefundMatch::NotApplied
    );
}
