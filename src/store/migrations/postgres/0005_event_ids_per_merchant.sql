-- Provider event ids are deduplicated per merchant: (merchant_id, provider, event_id). Each
-- merchant has its own provider account, and ids are unique only within an account, so the
-- same id may reach two merchants' routes; keyed without the merchant, the second merchant's
-- event was taken for a duplicate and dropped. `parked_events` is keyed the same way, or a
-- second merchant's event with that id could not be parked.

ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_pkey,
    ADD PRIMARY KEY (merchant_id, provider, event_id);
ALTER TABLE parked_events DROP CONSTRAINT parked_events_pkey,
    ADD PRIMARY KEY (merchant_id, provider, event_id);
