-- 0001: the tables of the quality scenarios, in PostgreSQL's dialect.
-- The same tables, columns and meaning as sqlite/migrations/0001_initial.sql, with these choices:
-- - times are timestamptz (the store's sessions run in UTC);
-- - exact decimals (price, sizes) and the product's sale window stay text, byte for byte what
--   SQLite stores, so a product row round-trips identically through either store;
-- - SQLite's INTEGER is 64-bit, hence bigint; its 0/1 flags are boolean here;
-- - keys that are compared or ordered (ids, SKUs) use COLLATE "C": byte order, which for UTF-8
--   is code point order, the order SQLite and Python sort in, whatever the database's locale;
-- - JSON written by this library is jsonb where its content is the library's own (policies,
--   headers), and text where it carries partner-supplied strings (reports, audit details,
--   products' unknown fields): jsonb refuses \u0000 and lone surrogates, which a hostile feed
--   can put in an item's SKU, and an audit write must never fail on what it records.

CREATE TABLE partner (
    id                    text COLLATE "C" PRIMARY KEY,
    name                  text NOT NULL,
    created_at            timestamptz NOT NULL,
    default_format        text NOT NULL DEFAULT 'json',
    default_version       bigint NOT NULL DEFAULT 1,
    policy                jsonb NOT NULL DEFAULT '{}',         -- ValidationPolicy
    allow_policy_override boolean NOT NULL DEFAULT false,
    rate_limit_per_minute bigint,
    endpoint              text,
    endpoint_auth         text,                                 -- encrypted (CredentialVault)
    endpoint_headers      jsonb NOT NULL DEFAULT '{}',          -- values encrypted
    active                boolean NOT NULL DEFAULT true
);

-- The canonical products. Upserts compare the stored columns with the new ones (no content
-- hash column); `id` is kept for parity with SQLite and as a compact key for references.
-- fillfactor leaves room on each page so that rewriting a changed product stays a HOT update
-- (no index touched: only id, partner_id and sku are indexed, and they never change).
CREATE TABLE product (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    partner_id     text COLLATE "C" NOT NULL,
    sku            text COLLATE "C" NOT NULL,
    name           text NOT NULL,
    price          text NOT NULL,                               -- exact decimal text
    currency       text NOT NULL,
    quantity       bigint NOT NULL,
    brand          text,
    manufacturer   text,
    gtin           text,
    description    text,
    image_url      text,
    width          text,
    height         text,
    depth          text,
    dimension_unit text,
    sale_price     text,
    sale_starts_at text,                                        -- ISO 8601 text, as in the row
    sale_ends_at   text,
    extra          text,                                        -- unknown fields, canonical JSON text
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT product_partner_id_sku_key UNIQUE (partner_id, sku)
) WITH (fillfactor = 85);

CREATE TABLE partner_api_keys (
    id           text COLLATE "C" PRIMARY KEY,                  -- public key id, part of the key
    role         text NOT NULL CHECK (role IN ('partner', 'admin')),
    partner_id   text COLLATE "C" REFERENCES partner (id),
    secret_hash  bytea NOT NULL,                                -- HMAC-SHA256, never the secret
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    replaces     text COLLATE "C",                              -- the key this one rotated out
    CHECK ((role = 'admin') = (partner_id IS NULL))
);
CREATE INDEX partner_api_keys_partner ON partner_api_keys (partner_id);

-- The ledger: one row per processed feed, written with the products it applied.
-- `seq` is the insertion order SQLite keeps in its rowid (the tie-break of "most recent").
CREATE TABLE partner_feed_imports (
    id              text COLLATE "C" PRIMARY KEY,
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    partner_id      text COLLATE "C" NOT NULL REFERENCES partner (id),
    format          text NOT NULL,
    version         bigint NOT NULL,
    content_hash    text NOT NULL,
    status          text NOT NULL CHECK (status IN ('applied', 'rejected')),
    received        bigint NOT NULL,
    created         bigint NOT NULL,
    updated         bigint NOT NULL,
    unchanged       bigint NOT NULL,
    rejected        bigint NOT NULL,
    report          text NOT NULL,                              -- IngestReport as JSON text
    idempotency_key text,
    job_id          text COLLATE "C",
    received_at     timestamptz NOT NULL,
    completed_at    timestamptz NOT NULL
);
CREATE INDEX partner_feed_imports_recent ON partner_feed_imports (partner_id, completed_at);
CREATE UNIQUE INDEX partner_feed_imports_idempotency
    ON partner_feed_imports (partner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE partner_ingest_jobs (
    id               text COLLATE "C" PRIMARY KEY,
    partner_id       text COLLATE "C" NOT NULL REFERENCES partner (id),
    format           text NOT NULL,
    version          bigint NOT NULL,
    status           text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    created_at       timestamptz NOT NULL,
    available_at     timestamptz NOT NULL,
    content_hash     text NOT NULL,
    body_bytes       bigint NOT NULL,
    attempts         bigint NOT NULL DEFAULT 0,
    max_attempts     bigint NOT NULL,
    policy           jsonb,
    idempotency_key  text,
    lease_token      text,
    lease_expires_at timestamptz,
    last_error       text,
    report           text,
    finished_at      timestamptz,
    source           text NOT NULL DEFAULT 'push'
);
-- Claiming scans the open jobs in claim order and stops at the first one it can lock;
-- finished jobs (the bulk of the table, in time) are not in this index at all.
CREATE INDEX partner_ingest_jobs_claim ON partner_ingest_jobs (available_at, created_at, id)
    WHERE status IN ('queued', 'running');
CREATE INDEX partner_ingest_jobs_partner ON partner_ingest_jobs (partner_id, created_at);
CREATE UNIQUE INDEX partner_ingest_jobs_idempotency
    ON partner_ingest_jobs (partner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Feed bodies apart from the jobs, so listing jobs never reads megabytes. A body is stored as
-- numbered chunks (1 MiB each, seq 0..n; an empty body is one empty chunk), written and read
-- back one chunk at a time: neither this process nor the server ever holds a whole feed (up to
-- 512 MiB by default), where a single bytea value would have to be built whole on both sides
-- (and caps at 1 GB). STORAGE EXTERNAL keeps chunks uncompressed in TOAST: pglz would cost more
-- CPU on every job than the disk it saves.
CREATE TABLE partner_ingest_job_bodies (
    job_id text COLLATE "C" NOT NULL REFERENCES partner_ingest_jobs (id) ON DELETE CASCADE,
    seq    integer NOT NULL CHECK (seq >= 0),
    chunk  bytea NOT NULL,
    PRIMARY KEY (job_id, seq)
);
ALTER TABLE partner_ingest_job_bodies ALTER COLUMN chunk SET STORAGE EXTERNAL;

-- The audit trail: append-only, enforced by the database itself.
CREATE TABLE partner_ingest_audit (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- never reused
    at         timestamptz NOT NULL,
    action     text NOT NULL,
    outcome    text NOT NULL,
    actor      text NOT NULL,
    partner_id text COLLATE "C",                                -- no foreign key: unknown callers are audited too
    client     text,
    details    text NOT NULL DEFAULT '{}'                       -- JSON text
);
CREATE INDEX partner_ingest_audit_at ON partner_ingest_audit (at);
CREATE INDEX partner_ingest_audit_partner ON partner_ingest_audit (partner_id, at);
CREATE INDEX partner_ingest_audit_action ON partner_ingest_audit (action, at);
CREATE INDEX partner_ingest_audit_outcome ON partner_ingest_audit (outcome, at);

CREATE FUNCTION partner_ingest_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'partner_ingest_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Statement triggers: they fire even when no row matches, so any attempt is refused and seen.
CREATE TRIGGER partner_ingest_audit_no_update_or_delete
    BEFORE UPDATE OR DELETE ON partner_ingest_audit
    FOR EACH STATEMENT EXECUTE FUNCTION partner_ingest_audit_refuse();

CREATE TRIGGER partner_ingest_audit_no_truncate
    BEFORE TRUNCATE ON partner_ingest_audit
    FOR EACH STATEMENT EXECUTE FUNCTION partner_ingest_audit_refuse();
