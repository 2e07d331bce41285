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
