-- A key whose call was never sent (or refused before the provider acted) is kept, marked
-- released, instead of being deleted: the caller's retry with the same key and parameters
-- claims it again and continues under the same payment and operation ids, so the provider
-- sees the same idempotency key. The reaper deletes released keys after the retention period.
ALTER TABLE idempotency_keys ADD COLUMN released BOOLEAN NOT NULL DEFAULT FALSE;
