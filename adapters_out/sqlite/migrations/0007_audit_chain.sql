-- 0007: the audit trail becomes tamper-evident (ADR 0028). Each entry carries the hash of the
-- entry before it and its own hash over its content and that previous hash; the chain is
-- computed by the audit log on append, and here, once, for the entries written before.
-- partner_ingest_audit_link() is the SQL function every connection of this library registers
-- (adapters_out/sqlite/connection.py): the same hash the audit log computes in Python.
ALTER TABLE partner_ingest_audit ADD COLUMN previous_hash TEXT;
ALTER TABLE partner_ingest_audit ADD COLUMN hash TEXT;

-- The chain in id order, one entry after the other (a recursive walk: each link needs the last).
CREATE TEMP TABLE partner_ingest_audit_backfill AS
WITH RECURSIVE chain(id, previous_hash, hash) AS (
    SELECT 0, NULL, '0000000000000000000000000000000000000000000000000000000000000000'
    UNION ALL
    SELECT entry.id, chain.hash, partner_ingest_audit_link(
        chain.hash, entry.at, entry.action, entry.outcome, entry.actor, entry.partner_id, entry.client, entry.details
    )
    FROM chain JOIN partner_ingest_audit AS entry
        ON entry.id = (SELECT min(id) FROM partner_ingest_audit WHERE id > chain.id)
)
SELECT id, previous_hash, hash FROM chain WHERE id > 0;

-- The update trigger is lifted for this one statement, inside this migration's transaction.
DROP TRIGGER partner_ingest_audit_no_update;
UPDATE partner_ingest_audit
    SET previous_hash = backfill.previous_hash, hash = backfill.hash
    FROM partner_ingest_audit_backfill AS backfill
    WHERE backfill.id = partner_ingest_audit.id;
CREATE TRIGGER partner_ingest_audit_no_update BEFORE UPDATE ON partner_ingest_audit
BEGIN
    SELECT RAISE(ABORT, 'partner_ingest_audit is append-only');
END;
DROP TABLE partner_ingest_audit_backfill;
