-- Webhooks name a payment by the processor's id: find it without a scan, within one merchant.
CREATE INDEX payments_by_provider_reference ON payments (merchant_id, provider, provider_reference)
    WHERE provider_reference IS NOT NULL;
