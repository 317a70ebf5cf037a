-- paygate ledger, SQLite flavour.
--
-- A payment is stored as a JSON document (`doc`, the domain Payment with its operations) plus
-- the scalar columns that queries filter on and that CHECK constraints guard. The store writes
-- both from the same value in one transaction; the constraints are the last line of defence
-- for the money invariants even if a bug slipped past the domain rules.

CREATE TABLE payments (
    id                 TEXT PRIMARY KEY NOT NULL,
    merchant_id        TEXT NOT NULL,
    provider           TEXT NOT NULL CHECK (provider IN ('mock', 'cmi', 'paypal')),
    merchant_reference TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('requires_action', 'pending', 'authorized',
                           'partially_captured', 'captured', 'partially_refunded', 'refunded',
                           'voided', 'declined', 'failed')),
    currency           TEXT NOT NULL,
    amount             INTEGER NOT NULL CHECK (amount > 0),
    captured           INTEGER NOT NULL CHECK (captured >= 0 AND captured <= amount),
    refunded           INTEGER NOT NULL CHECK (refunded >= 0 AND refunded <= captured),
    provider_reference TEXT,
    doc                TEXT NOT NULL,
    version            INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
-- Ids are UUIDv7 (time-ordered), so listing newest first walks this index backwards.
CREATE INDEX payments_by_merchant ON payments (merchant_id, id);
CREATE INDEX payments_by_reference ON payments (merchant_id, merchant_reference, id);

CREATE TABLE operations (
    id                 TEXT PRIMARY KEY NOT NULL,
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    kind               TEXT NOT NULL CHECK (kind IN ('authorize', 'capture', 'void', 'refund')),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'declined', 'failed', 'unknown')),
    amount             INTEGER NOT NULL CHECK (amount > 0),
    -- The idempotency key paygate sent to the provider: unique, so no second money movement.
    provider_key       TEXT NOT NULL UNIQUE,
    -- Reconciliation bookkeeping: how often we asked the provider, and when to ask next.
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX operations_by_payment ON operations (payment_id);
-- The reconciler's work list: only unsettled operations.
CREATE INDEX operations_open ON operations (next_attempt_at) WHERE status IN ('pending', 'unknown');

CREATE TABLE idempotency_keys (
    merchant_id  TEXT NOT NULL,
    method       TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  BLOB NOT NULL,
    payment_id   TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    -- The first response (a JSON Payment), NULL while the first request is still running.
    response     TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, method, key)
);
CREATE INDEX idempotency_by_operation ON idempotency_keys (operation_id);
CREATE INDEX idempotency_by_age ON idempotency_keys (created_at);

-- The log behind WatchEvents: written in the same transaction as the change it reports.
CREATE TABLE events (
    sequence    INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id TEXT NOT NULL,
    payment_id  TEXT NOT NULL,
    type        TEXT NOT NULL,
    payment     TEXT NOT NULL,
    occurred_at INTEGER NOT NULL
);

-- Provider webhook/callback ids already applied, for deduplication.
CREATE TABLE webhook_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id)
);
