-- 0010: the catalog lifecycle (ADR 0036): retired products and each partner's feed mode.
--
-- Safe on a large product table: ADD COLUMN of a nullable column, or of one with a constant
-- default, changes only the catalog (PostgreSQL 11+): no row is rewritten and the ACCESS
-- EXCLUSIVE lock is held for milliseconds, so ingest continues around the upgrade. There is
-- deliberately no index on retired_at: building one would read every product while writers
-- wait, and the reads that filter on it go through the (partner_id, sku) index anyway.
SET LOCAL lock_timeout = '5s';
ALTER TABLE product ADD COLUMN retired_at timestamptz;    -- when the product was retired; NULL: active

-- The partner's default feed mode: upsert, snapshot or patch (a feed may name its own).
ALTER TABLE partner ADD COLUMN feed_mode text NOT NULL DEFAULT 'upsert'
    CHECK (feed_mode IN ('upsert', 'snapshot', 'patch'));
