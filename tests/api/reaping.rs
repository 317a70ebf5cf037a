//! Idempotency key retention, at the store level: the reaper forgets finished keys older than
//! the cutoff and never a key whose request is still running.

use paygate::domain::{
    AuthorizeCommand, CaptureMode, Currency, IdempotencyKey, MerchantId, Money, Outcome,
    ProviderKind, Timestamp,
};
use paygate::store::{Claimed, KeyClaim, Store, StoreOptions, Write, Written};
use paygate::telemetry::Metrics;
use std::sync::Arc;
use std::time::Duration;

fn command(key: &str) -> AuthorizeCommand {
    AuthorizeCommand {
        key: IdempotencyKey::parse(key).unwrap(),
        provider: ProviderKind::Mock,
        amount: Money::new(100, Currency::parse("MAD").unwrap()).unwrap(),
        merchant_reference: String::new(),
        capture_mode: CaptureMode::Manual,
        customer: Default::default(),
        return_url: None,
        cancel_url: None,
        description: String::new(),
        locale: String::new(),
        metadata: Default::default(),
        payment_token: String::new(),
    }
}

async fn open(store: &Store, key: &str) -> Claimed {
    let merchant = MerchantId::parse("m").unwrap();
    let cmd = command(key);
    let claim = KeyClaim {
        merchant: merchant.clone(),
        method: "Authorize",
        key: cmd.key.clone(),
        fingerprint: [7; 32],
    };
    let payment = Box::new(cmd.open_payment(&merchant, Timestamp::now()));
    match store
        .write(Write::OpenPayment {
            claim,
            payment,
            lease_until: Timestamp::now(),
        })
        .await
        .unwrap()
    {
        Written::Claimed(c) => c,
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn finished_keys_past_the_cutoff_are_reaped_and_running_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("reap.db").display());
    let store = Store::open(
        &StoreOptions {
            url,
            busy_timeout: Duration::from_secs(5),
            sqlite_max_pages: None,
        },
        Arc::new(Metrics::new()),
    )
    .await
    .unwrap();

    let Claimed::Started { payment, operation } = open(&store, "finished").await else {
        panic!("new key")
    };
    let settle = Write::Settle {
        payment_id: payment.id,
        operation,
        outcome: Outcome::Succeeded {
            provider_reference: None,
            expires_at: None,
        },
        now: Timestamp::now(),
    };
    store.write(settle).await.unwrap();
    assert!(matches!(
        open(&store, "running").await,
        Claimed::Started { .. }
    ));
    assert!(
        matches!(open(&store, "finished").await, Claimed::Replay(_)),
        "kept before reaping"
    );

    // A cutoff in the past reaps nothing; one in the future reaps only the finished key.
    let past = Timestamp::now().plus_seconds(-3600);
    assert!(matches!(
        store.write(Write::ReapKeys { cutoff: past }).await.unwrap(),
        Written::Reaped(0)
    ));
    let future = Timestamp::now().plus_seconds(1);
    assert!(matches!(
        store
            .write(Write::ReapKeys { cutoff: future })
            .await
            .unwrap(),
        Written::Reaped(1)
    ));

    assert!(
        matches!(open(&store, "finished").await, Claimed::Started { .. }),
        "forgotten after reaping"
    );
    assert!(
        matches!(open(&store, "running").await, Claimed::InUse),
        "a running request keeps its key"
    );
    store.close().await;
}
