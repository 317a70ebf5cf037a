-- Webhooks to shops (issue 13). The outbox is the event log itself: `webhook_cursors` says how
-- far each merchant's events have been fanned out into deliveries, one per endpoint that wants
-- the event type. A delivery is created once per (endpoint, event) (the UNIQUE key makes a
-- second fan-out of the same event, by another replica or after a crash, a no-op) with its
-- body rendered then, so every retry and redelivery sends the same bytes under the same id.

-- Created at the merchant's last event the first time it has endpoints: no replay of history.
CREATE TABLE webhook_cursors (
    merchant_id   TEXT PRIMARY KEY,
    last_sequence INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id     TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    sequence        INTEGER NOT NULL,
    event_type      TEXT NOT NULL,
    payment_id      TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    body            BLOB NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    -- Every attempt ever made; `round_attempts` counts those of the current round of the
    -- retry schedule (a redelivery starts a new round).
    attempts        INTEGER NOT NULL DEFAULT 0,
    round_attempts  INTEGER NOT NULL DEFAULT 0,
    -- Micros. While claimed, the end of the claim's lease.
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_attempt_at INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    -- The W3C traceparent of the call that began the operation behind the event, if traces
    -- were on: each attempt's span links to that trace. An id, never a secret.
    trace_parent    TEXT,
    UNIQUE (endpoint_id, sequence)
);
-- The dispatcher's claim: one endpoint's due pending deliveries, oldest due first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_merchant ON webhook_deliveries (merchant_id, id);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (created_at);

CREATE TABLE webhook_attempts (
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt_no  INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT,
    latency_ms  INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, attempt_no)
) WITHOUT ROWID;
