-- paygate ledger, PostgreSQL flavour: the same tables and checks as the SQLite schema, so both
-- backends behave the same, plus the one-row counter that numbers the event log.
--
-- A payment is stored as a JSON document (`doc`, the domain Payment with its operations) plus
-- the scalar columns that queries filter on and that CHECK constraints guard. `doc` is TEXT, not
-- JSONB: it is only ever read and written whole, and TEXT keeps the bytes exactly as serde wrote
-- them (no re-parsing on insert, same document on both backends). Times are Unix microseconds.

CREATE TABLE payments (
    id                 UUID PRIMARY KEY,
    merchant_id        TEXT NOT NULL,
    provider           TEXT NOT NULL CHECK (provider IN ('mock', 'cmi', 'paypal')),
    merchant_reference TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('requires_action', 'pending', 'authorized',
                           'partially_captured', 'captured', 'partially_refunded', 'refunded',
                           'voided', 'declined', 'failed')),
    currency           TEXT NOT NULL,
    amount             BIGINT NOT NULL CHECK (amount > 0),
    captured           BIGINT NOT NULL CHECK (captured >= 0 AND captured <= amount),
    refunded           BIGINT NOT NULL CHECK (refunded >= 0 AND refunded <= captured),
    provider_reference TEXT,
    doc                TEXT NOT NULL,
    version            BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
-- Ids are UUIDv7 (time-ordered; UUIDs compare bytewise, i.e. like their lowercase text), so
-- listing newest first walks this index backwards, in the same order as on SQLite.
CREATE INDEX payments_by_merchant ON payments (merchant_id, id);
CREATE INDEX payments_by_reference ON payments (merchant_id, merchant_reference, id);
CREATE INDEX payments_by_provider_reference ON payments (merchant_id, provider, provider_reference)
    WHERE provider_reference IS NOT NULL;

CREATE TABLE operations (
    id                 UUID PRIMARY KEY,
    payment_id         UUID NOT NULL REFERENCES payments (id),
    kind               TEXT NOT NULL CHECK (kind IN ('authorize', 'capture', 'void', 'refund')),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'declined', 'failed', 'unknown')),
    amount             BIGINT NOT NULL CHECK (amount > 0),
    -- The idempotency key paygate sent to the provider: unique, so no second money movement.
    provider_key       TEXT NOT NULL UNIQUE,
    -- Reconciliation bookkeeping: how often we asked the provider, and when to ask next (a
    -- replica that claims an operation pushes this forward as its lease).
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX operations_by_payment ON operations (payment_id);
-- The reconciler's work list: only unsettled operations.
CREATE INDEX operations_open ON operations (next_attempt_at) WHERE status IN ('pending', 'unknown');

CREATE TABLE idempotency_keys (
    merchant_id  TEXT NOT NULL,
    method       TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  BYTEA NOT NULL,
    payment_id   UUID NOT NULL,
    operation_id UUID NOT NULL,
    -- The first response (a JSON Payment), NULL while the first request is still running.
    response     TEXT,
    created_at   BIGINT NOT NULL,
    -- Claims are INSERT ... ON CONFLICT DO NOTHING on this key: never check-then-insert.
    PRIMARY KEY (merchant_id, method, key)
);
CREATE INDEX idempotency_by_operation ON idempotency_keys (operation_id);
CREATE INDEX idempotency_by_age ON idempotency_keys (created_at);

-- The log behind WatchEvents, written in the same transaction as the change it reports.
-- `sequence` is not a SERIAL: sequences hand out numbers at nextval() time, and concurrent
-- transactions commit out of that order, so a reader could see 8 before 7 and skip 7 for good.
-- It comes from `event_counter` instead (below).
CREATE TABLE events (
    sequence    BIGINT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    payment_id  UUID NOT NULL,
    type        TEXT NOT NULL,
    payment     TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX events_by_merchant ON events (merchant_id, sequence);

-- One row. `UPDATE event_counter SET last = last + 1 RETURNING last` inside the writing
-- transaction holds the row lock until COMMIT, so event appends are numbered in commit order
-- and a rolled-back transaction gives its number back: the log is gap-free for every reader.
CREATE TABLE event_counter (
    id   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    last BIGINT NOT NULL
);
INSERT INTO event_counter (id, last) VALUES (TRUE, 0);

-- Provider webhook/callback ids already applied, for deduplication.
CREATE TABLE webhook_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
