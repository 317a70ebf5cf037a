-- Provider event ids are deduplicated per merchant: (merchant_id, provider, event_id). Each
-- merchant has its own provider account, and ids are unique only within an account, so the
-- same id may reach two merchants' routes; keyed without the merchant, the second merchant's
-- event was taken for a duplicate and dropped. `parked_events` is keyed the same way, or a
-- second merchant's event with that id could not be parked.
--
-- SQLite cannot change a primary key in place: each table is rebuilt under the new key. The
-- rows wait in a TEMP table while the old table is dropped and the new one created, so the new
-- one takes the pages the old one freed and the file keeps no free pages it did not have.

CREATE TEMP TABLE webhook_events_rows AS SELECT * FROM webhook_events;
DROP TABLE webhook_events;
CREATE TABLE webhook_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, provider, event_id)
);
INSERT INTO webhook_events (provider, event_id, merchant_id, received_at)
    SELECT provider, event_id, merchant_id, received_at FROM webhook_events_rows;
DROP TABLE webhook_events_rows;

CREATE TEMP TABLE parked_events_rows AS SELECT * FROM parked_events;
DROP TABLE parked_events;
CREATE TABLE parked_events (
    provider           TEXT NOT NULL,
    event_id           TEXT NOT NULL,
    merchant_id        TEXT NOT NULL,
    payment_id         TEXT NOT NULL,
    source             TEXT NOT NULL CHECK (source IN ('reversal', 'refund', 'void')),
    amount             INTEGER CHECK (amount IS NULL OR amount > 0),
    provider_reference TEXT NOT NULL,
    reason             TEXT NOT NULL CHECK (reason IN ('refund_open', 'operation_open',
                           'exceeds_captured', 'refused')),
    needs_operator     INTEGER NOT NULL,
    parked_at          INTEGER NOT NULL,
    resolved_at        INTEGER,
    resolution         TEXT CHECK (resolution IN ('applied', 'already_recorded', 'moot')),
    PRIMARY KEY (merchant_id, provider, event_id),
    CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);
CREATE INDEX parked_events_waiting ON parked_events (payment_id) WHERE resolved_at IS NULL;
INSERT INTO parked_events (provider, event_id, merchant_id, payment_id, source, amount,
        provider_reference, reason, needs_operator, parked_at, resolved_at, resolution)
    SELECT provider, event_id, merchant_id, payment_id, source, amount, provider_reference,
           reason, needs_operator, parked_at, resolved_at, resolution
    FROM parked_events_rows;
DROP TABLE parked_events_rows;
