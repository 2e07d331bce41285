-- 0001: the tables of the quality scenarios.
-- Timestamps are ISO 8601 UTC text of fixed width (YYYY-MM-DDTHH:MM:SS.ffffffZ),
-- so that text order is time order and every index on them works.

CREATE TABLE partner (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    default_format        TEXT NOT NULL DEFAULT 'json',
    default_version       INTEGER NOT NULL DEFAULT 1,
    policy                TEXT NOT NULL DEFAULT '{}',          -- ValidationPolicy as JSON
    allow_policy_override INTEGER NOT NULL DEFAULT 0,
    rate_limit_per_minute INTEGER,
    endpoint              TEXT,
    endpoint_auth         TEXT,                                 -- encrypted (CredentialVault)
    endpoint_headers      TEXT NOT NULL DEFAULT '{}',           -- JSON; values encrypted
    active                INTEGER NOT NULL DEFAULT 1
);

-- The canonical products. `id` is the rowid: a new row always gets an id above
-- every existing one, which is how an upsert batch counts what it created.
CREATE TABLE product (
    id             INTEGER PRIMARY KEY,
    partner_id     TEXT NOT NULL,
    sku            TEXT NOT NULL,
    name           TEXT NOT NULL,
    price          TEXT NOT NULL,                               -- exact decimal text
    currency       TEXT NOT NULL,
    quantity       INTEGER NOT NULL,
    brand          TEXT,
    manufacturer   TEXT,
    gtin           TEXT,
    description    TEXT,
    image_url      TEXT,
    width          TEXT,
    height         TEXT,
    depth          TEXT,
    dimension_unit TEXT,
    sale_price     TEXT,
    sale_starts_at TEXT,
    sale_ends_at   TEXT,
    extra          TEXT,                                        -- unknown fields, JSON
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (partner_id, sku)
);

CREATE TABLE partner_api_keys (
    id           TEXT PRIMARY KEY,                               -- public key id, part of the key
    role         TEXT NOT NULL CHECK (role IN ('partner', 'admin')),
    partner_id   TEXT REFERENCES partner (id),
    secret_hash  BLOB NOT NULL,                                  -- HMAC-SHA256, never the secret
    label        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT,
    replaces     TEXT,                                           -- the key this one rotated out
    CHECK ((role = 'admin') = (partner_id IS NULL))
);
CREATE INDEX partner_api_keys_partner ON partner_api_keys (partner_id);

-- The ledger: one row per processed feed, written with the products it applied.
CREATE TABLE partner_feed_imports (
    id              TEXT PRIMARY KEY,
    partner_id      TEXT NOT NULL REFERENCES partner (id),
    format          TEXT NOT NULL,
    version         INTEGER NOT NULL,
    content_hash    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('applied', 'rejected')),
    received        INTEGER NOT NULL,
    created         INTEGER NOT NULL,
    updated         INTEGER NOT NULL,
    unchanged       INTEGER NOT NULL,
    rejected        INTEGER NOT NULL,
    report          TEXT NOT NULL,                              -- IngestReport as JSON
    idempotency_key TEXT,
    job_id          TEXT,
    received_at     TEXT NOT NULL,
    completed_at    TEXT NOT NULL
);
CREATE INDEX partner_feed_imports_recent ON partner_feed_imports (partner_id, completed_at);
CREATE UNIQUE INDEX partner_feed_imports_idempotency
    ON partner_feed_imports (partner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE partner_ingest_jobs (
    id               TEXT PRIMARY KEY,
    partner_id       TEXT NOT NULL REFERENCES partner (id),
    format           TEXT NOT NULL,
    version          INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    created_at       TEXT NOT NULL,
    available_at     TEXT NOT NULL,
    content_hash     TEXT NOT NULL,
    body_bytes       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    policy           TEXT,
    idempotency_key  TEXT,
    lease_token      TEXT,
    lease_expires_at TEXT,
    last_error       TEXT,
    report           TEXT,
    finished_at      TEXT,
    source           TEXT NOT NULL DEFAULT 'push'
);
CREATE INDEX partner_ingest_jobs_claim ON partner_ingest_jobs (status, available_at);
CREATE INDEX partner_ingest_jobs_partner ON partner_ingest_jobs (partner_id, created_at);
CREATE UNIQUE INDEX partner_ingest_jobs_idempotency
    ON partner_ingest_jobs (partner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Feed bodies apart from the jobs, so listing jobs never reads megabytes.
CREATE TABLE partner_ingest_job_bodies (
    job_id TEXT NOT NULL UNIQUE REFERENCES partner_ingest_jobs (id) ON DELETE CASCADE,
    body   BLOB NOT NULL
);

-- The audit trail: append-only, enforced by the database itself.
CREATE TABLE partner_ingest_audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,               -- never reused
    at         TEXT NOT NULL,
    action     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    actor      TEXT NOT NULL,
    partner_id TEXT,                                            -- no foreign key: unknown callers are audited too
    client     TEXT,
    details    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX partner_ingest_audit_at ON partner_ingest_audit (at);
CREATE INDEX partner_ingest_audit_partner ON partner_ingest_audit (partner_id, at);
CREATE INDEX partner_ingest_audit_action ON partner_ingest_audit (action, at);
CREATE INDEX partner_ingest_audit_outcome ON partner_ingest_audit (outcome, at);

CREATE TRIGGER partner_ingest_audit_no_update BEFORE UPDATE ON partner_ingest_audit
BEGIN
    SELECT RAISE(ABORT, 'partner_ingest_audit is append-only');
END;

CREATE TRIGGER partner_ingest_audit_no_delete BEFORE DELETE ON partner_ingest_audit
BEGIN
    SELECT RAISE(ABORT, 'partner_ingest_audit is append-only');
END;
