-- Lookups on the public paths, by index rather than by scan. (WatchEvents' per-merchant read
-- already has event_numbers_by_merchant, from 0002.)
--
-- The provider's ids of operations (PayPal authorization, capture and refund ids; a split
-- refund has several), so a webhook naming one finds its payment by this key instead of
-- parsing the JSON of every payment the merchant has with that provider. Written with the
-- payment document in the same statement (store/postgres/rows.rs `update_cte!`).
--
-- No foreign key to payments: `Abandon` deletes a payment the provider never saw (it holds no
-- reference), and a key would only turn that delete into an error. Readers join payments.
CREATE TABLE operation_references (
    merchant_id TEXT NOT NULL,
    provider    TEXT NOT NULL,
    reference   TEXT NOT NULL,
    payment_id  UUID NOT NULL,
    PRIMARY KEY (merchant_id, provider, reference, payment_id)
);

-- The references already recorded, split at commas as the store writes them.
INSERT INTO operation_references (merchant_id, provider, reference, payment_id)
SELECT DISTINCT p.merchant_id, p.provider, r.reference, p.id
FROM payments p,
     jsonb_array_elements(p.doc::jsonb -> 'operations') o,
     regexp_split_to_table(o ->> 'provider_reference', ',') AS r (reference)
WHERE o ->> 'provider_reference' IS NOT NULL AND r.reference <> ''
ON CONFLICT DO NOTHING;
