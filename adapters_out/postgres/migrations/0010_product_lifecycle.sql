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

-- The change feed (ADR 0037): a record for every product created, updated, retired or
-- restored, written set-based by statement triggers in the transaction that writes the
-- product. Ids do not follow commit order; each writing transaction gets its commit number
-- at commit, under an advisory lock (adapters_out/postgres/changes.py), and consumers page by
-- (commit number, id).
CREATE TABLE partner_product_changes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    partner_id text COLLATE "C" NOT NULL,
    sku        text COLLATE "C" NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('created', 'updated', 'retired', 'restored')),
    at         timestamptz NOT NULL
);
CREATE INDEX partner_product_changes_tx ON partner_product_changes (tx, id);
CREATE INDEX partner_product_changes_at ON partner_product_changes (at);

CREATE TABLE partner_product_change_commits (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx  xid8 NOT NULL UNIQUE
);

CREATE FUNCTION partner_product_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partner_product_changes (partner_id, sku, kind, at)
        SELECT partner_id, sku, 'created', updated_at FROM new_rows ORDER BY partner_id, sku;
    RETURN NULL;
END
$$;

CREATE FUNCTION partner_product_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO partner_product_changes (partner_id, sku, kind, at)
        SELECT n.partner_id, n.sku, CASE
                WHEN o.retired_at IS NULL AND n.retired_at IS NOT NULL THEN 'retired'
                WHEN o.retired_at IS NOT NULL AND n.retired_at IS NULL THEN 'restored'
                ELSE 'updated' END, n.updated_at
        FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id ORDER BY n.partner_id, n.sku;
    RETURN NULL;
END
$$;

CREATE TRIGGER partner_product_created AFTER INSERT ON product
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION partner_product_created();
CREATE TRIGGER partner_product_changed AFTER UPDATE ON product
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION partner_product_changed();
