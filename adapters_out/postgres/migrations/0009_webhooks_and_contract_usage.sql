-- 0009: completion webhooks (ADR 0034), and an index for contract version usage (ADR 0035).
-- One webhook per partner, its secrets encrypted by the credential vault; one row per event
-- queued for it, claimed by workers under a lease like a job (pending -> delivering ->
-- delivered | pending again | failed), with SKIP LOCKED so two workers never take one delivery.

CREATE TABLE partner_webhooks (
    partner_id      text COLLATE "C" PRIMARY KEY,
    url             text NOT NULL,
    secret          text NOT NULL,                  -- vault ciphertext, never the secret
    previous_secret text,                           -- the rotated-out secret, while it still signs
    previous_until  timestamptz,
    enabled         boolean NOT NULL,
    failures        bigint NOT NULL CHECK (failures >= 0),
    disabled_at     timestamptz,
    disabled_reason text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE partner_webhook_deliveries (
    id           text COLLATE "C" PRIMARY KEY,
    partner_id   text COLLATE "C" NOT NULL,
    event        text NOT NULL,
    payload      text NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
    attempts     bigint NOT NULL CHECK (attempts >= 0),
    created_at   timestamptz NOT NULL,
    available_at timestamptz NOT NULL,
    lease_token  text,
    lease_until  timestamptz,
    last_status  integer,
    last_error   text,
    delivered_at timestamptz
);

CREATE INDEX partner_webhook_deliveries_pending
    ON partner_webhook_deliveries (available_at, created_at, id) WHERE status = 'pending';
CREATE INDEX partner_webhook_deliveries_delivering
    ON partner_webhook_deliveries (lease_until, created_at, id) WHERE status = 'delivering';
CREATE INDEX partner_webhook_deliveries_log
    ON partner_webhook_deliveries (partner_id, created_at DESC, id DESC);

-- Which partners still send each contract version (ADR 0035): the admin's usage view groups
-- the ledger by version and partner.
CREATE INDEX partner_feed_imports_version ON partner_feed_imports (version, partner_id, completed_at);
