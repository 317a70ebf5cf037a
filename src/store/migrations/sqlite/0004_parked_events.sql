-- Provider events that report money already moved (a reversal, a refund made in the provider's
-- dashboard, a void by the provider) which the ledger could not take when they arrived: a
-- refund of the payment was open, or the payment was PENDING, or the amount never fits. The
-- event id is in `webhook_events` too (written in the same transaction), so a redelivery is a
-- duplicate; the operation to apply waits here and is tried again in the transaction of every
-- later change of the payment. A resolved row is kept (resolved_at, resolution) as the record
-- of how the event was finally taken.
--
-- No foreign key to payments: `Abandon` deletes a payment the provider never saw (no event can
-- name it), and a key would only turn that delete into an error.
CREATE TABLE parked_events (
    provider           TEXT NOT NULL,
    event_id           TEXT NOT NULL,
    merchant_id        TEXT NOT NULL,
    payment_id         TEXT NOT NULL,
    -- What the provider did: 'reversal' and 'refund' become a refund, 'void' a void.
    source             TEXT NOT NULL CHECK (source IN ('reversal', 'refund', 'void')),
    -- In the payment's currency, minor units; NULL for a void (the whole authorization).
    amount             INTEGER CHECK (amount IS NULL OR amount > 0),
    provider_reference TEXT NOT NULL,
    -- Why it waits now; with needs_operator, nothing paygate waits for can lift it.
    reason             TEXT NOT NULL CHECK (reason IN ('refund_open', 'operation_open',
                           'exceeds_captured', 'refused')),
    needs_operator     INTEGER NOT NULL,
    parked_at          INTEGER NOT NULL,
    resolved_at        INTEGER,
    resolution         TEXT CHECK (resolution IN ('applied', 'already_recorded', 'moot')),
    PRIMARY KEY (provider, event_id),
    CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);
-- What a change of the payment must look at, and what the gauge counts.
CREATE INDEX parked_events_waiting ON parked_events (payment_id) WHERE resolved_at IS NULL;
