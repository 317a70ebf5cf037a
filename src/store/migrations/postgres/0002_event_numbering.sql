-- Events are numbered after they commit, in batches, instead of inside the writing transaction.
--
-- 0001 numbered each event from the one-row `event_counter` inside the transaction that wrote
-- it. That keeps the log gap-free and in commit order, but the counter's row lock is held until
-- COMMIT has flushed the WAL, so every event-writing transaction in the cluster committed one
-- flush after another (no group commit), whatever the number of replicas.
--
-- Now a write inserts its event (payload, insert-only) and a tiny row in `events_to_number`, in
-- the same transaction as the change it reports. `paygate_number_events()` locks the counter
-- row, takes every committed entry of that queue in `id` order and gives each the next number
-- in `event_numbers`, all in one transaction. Readers only read through `event_numbers`, so:
-- * gap-free: numbers come from the counter, under its lock, one batch after another, and a
--   batch commits whole or not at all (the function refuses to leave a hole);
-- * in commit order: a numbering sees only events committed before it, and a later numbering
--   numbers after it; two changes of one payment are serialized by its row lock, so the second
--   event also has the larger `id` and, when both are numbered together, the larger number.
-- One flush numbers a whole burst, and the writing transactions commit side by side. Nothing
-- is updated in place: the wide payload rows are written once (no second copy in the WAL).

ALTER TABLE events ADD COLUMN id BIGINT GENERATED ALWAYS AS IDENTITY;

CREATE TABLE event_numbers (
    sequence    BIGINT PRIMARY KEY,
    event_id    BIGINT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX event_numbers_by_merchant ON event_numbers (merchant_id, sequence);
CREATE INDEX event_numbers_by_age ON event_numbers (occurred_at);
-- Events existing before this migration were numbered by 0001: keep their numbers.
INSERT INTO event_numbers (sequence, event_id, merchant_id, occurred_at)
    SELECT sequence, id, merchant_id, occurred_at FROM events;

ALTER TABLE events DROP CONSTRAINT events_pkey;
DROP INDEX events_by_merchant;
ALTER TABLE events DROP COLUMN sequence;
ALTER TABLE events ADD PRIMARY KEY (id);

-- Committed events still waiting for their number. Rows live for milliseconds; vacuum it often
-- so the "anything waiting?" probe stays a probe.
-- It carries what `event_numbers` needs, so numbering never reads the payload table.
CREATE TABLE events_to_number (
    event_id    BIGINT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);
ALTER TABLE events_to_number SET (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0);

-- Numbers up to `batch` committed events and returns how many it numbered (0 when none were
-- waiting: then it takes no lock and writes nothing). PL/pgSQL in READ COMMITTED takes a new
-- snapshot per statement, so after waiting for the counter lock held by another numbering, the
-- next statement sees that numbering's work and does not repeat it.
CREATE FUNCTION paygate_number_events(batch INTEGER) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    base BIGINT;
    numbered BIGINT;
    top BIGINT;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM events_to_number) THEN
        RETURN 0;
    END IF;
    SELECT last INTO base FROM event_counter FOR UPDATE;
    WITH todo AS (
        DELETE FROM events_to_number
        WHERE event_id IN (SELECT event_id FROM events_to_number ORDER BY event_id LIMIT batch)
        RETURNING event_id, merchant_id, occurred_at
    ), done AS (
        INSERT INTO event_numbers (sequence, event_id, merchant_id, occurred_at)
        SELECT base + row_number() OVER (ORDER BY event_id), event_id, merchant_id, occurred_at
        FROM todo
        RETURNING sequence
    )
    SELECT count(*), COALESCE(max(sequence), base) INTO numbered, top FROM done;
    -- Fail closed rather than leave a hole.
    IF top <> base + numbered THEN
        RAISE EXCEPTION 'event numbering would leave a gap after %', base;
    END IF;
    UPDATE event_counter SET last = base + numbered;
    RETURN numbered;
END
$$;
