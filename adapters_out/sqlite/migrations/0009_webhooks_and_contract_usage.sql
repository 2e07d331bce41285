-- 0009: completion webhooks (ADR 0034), and an index for contract version usage (ADR 0035).
-- One webhook per partner, its secrets encrypted by the credential vault; one row per event
-- queued for it, claimed by workers under a lease like a job (pending -> delivering ->
-- delivered | pending again | failed).

CREATE TABLE partner_webhooks (
    partner_id      TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,                  -- vault ciphertext, never the secret
    previous_secret TEXT,                           -- the rotated-out secret, while it still signs
    previous_until  TEXT,
    enabled         INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    failures        INTEGER NOT NULL CHECK (failures >= 0),
    disabled_at     TEXT,
    disabled_reason TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE partner_webhook_deliveries (
    id           TEXT PRIMARY KEY,
    partner_id   TEXT NOT NULL,
    event        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL CHECK (attempts >= 0),
    created_at   TEXT NOT NULL,
    available_at TEXT NOT NULL,
    lease_token  TEXT,
    lease_until  TEXT,
    last_status  INTEGER,
    last_error   TEXT,
    delivered_at TEXT
);

-- The claim looks only at open deliveries, by when they are due.
CREATE INDEX partner_webhook_deliveries_pending
    ON partner_webhook_deliveries (available_at, created_at, id) WHERE status = 'pending';
CREATE INDEX partner_webhook_deliveries_delivering
    ON partner_webhook_deliveries (lease_until, created_at, id) WHERE status = 'delivering';
CREATE INDEX partner_webhook_deliveries_log
    ON partner_webhook_deliveries (partner_id, created_at DESC, id DESC);

-- Which partners still send each contract version (ADR 0035): the admin's usage view groups
-- the ledger by version and partner.
CREATE INDEX partner_feed_imports_version ON partner_feed_imports (version, partner_id, completed_at);
