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

-- Held snapshots (the mass-delete guard): an import may be held, then released or discarded.
-- SQLite cannot alter a CHECK constraint, so the column is added again with the wider one
-- (this rewrites the ledger, one row per feed, never the products).
ALTER TABLE partner_feed_imports RENAME COLUMN status TO status_before_0010;
ALTER TABLE partner_feed_imports ADD COLUMN status TEXT NOT NULL DEFAULT 'applied'
    CHECK (status IN ('applied', 'rejected', 'held', 'released', 'discarded'));
UPDATE partner_feed_imports SET status = status_before_0010;
ALTER TABLE partner_feed_imports DROP COLUMN status_before_0010;
CREATE INDEX partner_feed_imports_held ON partner_feed_imports (completed_at) WHERE status = 'held';

-- What a held snapshot needs for its release: its body as received, and the SKUs it would
-- retire (fixed when it was held). Deleted when the import is released or discarded.
CREATE TABLE partner_held_feeds (
    feed_id    TEXT PRIMARY KEY REFERENCES partner_feed_imports (id),
    partner_id TEXT NOT NULL REFERENCES partner (id),
    body       BLOB NOT NULL,
    retire     TEXT NOT NULL                                   -- JSON array of SKUs
);

-- The change feed (ADR 0037): every product created, updated, retired or restored, recorded by
-- the product repository (adapters_out/sqlite/products.py) in the transaction that writes it:
-- one record per batch and kind, its SKUs a JSON array, so that the feed costs the upsert one
-- small insert per batch. Not a row per product, nor a trigger: a row trigger on `product`, even
-- one that never fires, made every upsert about 70% slower, and a row per product 20%. One
-- writer at a time commits in SQLite, so ids increase in commit order; AUTOINCREMENT never reuses
-- the id of a purged record, so a cursor never points before a newer one.
CREATE TABLE partner_product_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('created', 'updated', 'retired', 'restored')),
    at         TEXT NOT NULL,
    skus       TEXT NOT NULL                                   -- JSON array, in write order
);
CREATE INDEX partner_product_changes_partner ON partner_product_changes (partner_id, id);
