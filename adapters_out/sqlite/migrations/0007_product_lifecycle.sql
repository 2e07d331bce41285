-- 0010: the catalog lifecycle (ADR 0036): retired products and each partner's feed mode.
--
-- Safe on a large product table: adding a nullable column without a default rewrites no row
-- in SQLite (only the schema text changes), so the upgrade takes the same time with a million
-- products as with none, and holds the write lock for milliseconds. There is deliberately no
-- index on retired_at: building one would read every product while writers wait, and the
-- reads that filter on it go through the (partner_id, sku) index anyway.
ALTER TABLE product ADD COLUMN retired_at TEXT;    -- when the product was retired; NULL: active

-- The partner's default feed mode: upsert, snapshot or patch (a feed may name its own); NULL: upsert.
ALTER TABLE partner ADD COLUMN feed_mode TEXT
    CHECK (feed_mode IN ('upsert', 'snapshot', 'patch'));

-- The feed mode a job was submitted with (NULL: the partner's default when it runs).
ALTER TABLE partner_ingest_jobs ADD COLUMN feed_mode TEXT
    CHECK (feed_mode IN ('upsert', 'snapshot', 'patch'));

-- The feed mode of a scheduled pull (NULL: the partner's default).
ALTER TABLE partner_schedules ADD COLUMN feed_mode TEXT
    CHECK (feed_mode IN ('upsert', 'snapshot', 'patch'));
