-- 0010: the catalog lifecycle (ADR 0036): retired products and each partner's feed mode.
--
-- Safe on a large product table: ADD COLUMN of a nullable column without a default changes
-- only the catalog: no row is rewritten and the ACCESS EXCLUSIVE lock is held for
-- milliseconds (lock_timeout: the upgrade gives up rather than queue every writer behind a
-- long reader), so ingest continues around the upgrade. The CHECKs below read only the
-- small partner, job and schedule tables. There is
-- deliberately no index on retired_at: building one would read every product while writers
-- wait, and the reads that filter on it go through the (partner_id, sku) index anyway.
SET LOCAL lock_timeout = '5s';
ALTER TABLE product ADD COLUMN retired_at timestamptz;    -- when the product was retired; NULL: active

-- The partner's default feed mode: upsert, snapshot or patch (a feed may name its own); NULL: upsert.
ALTER TABLE partner ADD COLUMN feed_mode text
    CHECK (feed_mode IN ('upsert', 'snapshot', 'patch'));

-- The feed mode a job was submitted with (NULL: the partner's default when it runs).
ALTER TABLE partner_ingest_jobs ADD COLUMN feed_mode text
    CHECK (feed_mode IN ('upsert', 'snapshot', 'patch'));

-- The feed mode of a scheduled pull (NULL: the partner's default).
ALTER TABLE partner_schedules ADD COLUMN feed_mode text
    CHECK (feed_mode IN ('upsert', 'snapshot', 'patch'));

-- Held snapshots (the mass-delete guard): an import may be held, then released or discarded.
ALTER TABLE partner_feed_imports DROP CONSTRAINT partner_feed_imports_status_check;
ALTER TABLE partner_feed_imports ADD CONSTRAINT partner_feed_imports_status_check
    CHECK (status IN ('applied', 'rejected', 'held', 'released', 'discarded'));
CREATE INDEX partner_feed_imports_held ON partner_feed_imports (completed_at) WHERE status = 'held';

-- What a held snapshot needs for its release: its body as received, and the SKUs it would
-- retire (fixed when it was held). Deleted when the import is released or discarded.
CREATE TABLE partner_held_feeds (
    feed_id    text COLLATE "C" PRIMARY KEY REFERENCES partner_feed_imports (id),
    partner_id text COLLATE "C" NOT NULL REFERENCES partner (id),
    body       bytea NOT NULL,
    retire     text NOT NULL                                   -- JSON array of SKUs
);
