-- Lookups on the public paths, by index rather than by scan.
--
-- WatchEvents reads one merchant's events after a sequence number, after every commit. With
-- only the sequence as key, a quiet merchant's subscriber walked everyone's newer events on
-- each of those reads. (PostgreSQL has had event_numbers_by_merchant since 0002.)
CREATE INDEX events_by_merchant ON events (merchant_id, sequence);

-- The provider's ids of operations (PayPal authorization, capture and refund ids; a split
-- refund has several), so a webhook naming one finds its payment by this key instead of
-- parsing the JSON of every payment the merchant has with that provider. Written with the
-- payment document in the same transaction (store/sqlite/rows.rs `save`).
--
-- No foreign key to payments: `Abandon` deletes a payment the provider never saw (it holds no
-- reference), and a key would only turn that delete into an error. Readers join payments.
CREATE TABLE operation_references (
    merchant_id TEXT NOT NULL,
    provider    TEXT NOT NULL,
    reference   TEXT NOT NULL,
    payment_id  TEXT NOT NULL,
    PRIMARY KEY (merchant_id, provider, reference, payment_id)
) WITHOUT ROWID;

-- The references already recorded, split at commas as the store writes them.
INSERT OR IGNORE INTO operation_references (merchant_id, provider, reference, payment_id)
WITH RECURSIVE parts (merchant_id, provider, payment_id, reference, rest) AS (
    SELECT p.merchant_id, p.provider, p.id, NULL, json_extract(o.value, '$.provider_reference') || ','
    FROM payments p, json_each(p.doc, '$.operations') o
    WHERE json_extract(o.value, '$.provider_reference') IS NOT NULL
    UNION ALL
    SELECT merchant_id, provider, payment_id,
           substr(rest, 1, instr(rest, ',') - 1), substr(rest, instr(rest, ',') + 1)
    FROM parts WHERE rest <> ''
)
SELECT merchant_id, provider, reference, payment_id FROM parts
WHERE reference IS NOT NULL AND reference <> '';
