-- 0007: the audit trail becomes tamper-evident (ADR 0028). Each entry carries the hash of the
-- entry before it and its own hash over its content and that previous hash. The audit log
-- computes it on append (under a lock, so concurrent appenders never fork the chain); here
-- it is computed once for the entries written before, by the same definition
-- (domain/model/audit_chain.py): sha256(previous_hash || E'\n' || content), content the
-- length-prefixed fields joined by '|', the time as fixed-width UTC text.
ALTER TABLE partner_ingest_audit ADD COLUMN previous_hash text;
ALTER TABLE partner_ingest_audit ADD COLUMN hash text;

CREATE OR REPLACE FUNCTION pg_temp.audit_field(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN '-' ELSE length(value)::text || ':' || value END
$$;

CREATE OR REPLACE FUNCTION pg_temp.audit_link(previous text, entry partner_ingest_audit) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(previous || E'\n' || concat_ws('|',
        pg_temp.audit_field(to_char(entry.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
        pg_temp.audit_field(entry.action),
        pg_temp.audit_field(entry.outcome),
        pg_temp.audit_field(entry.actor),
        pg_temp.audit_field(entry.partner_id),
        pg_temp.audit_field(entry.client),
        pg_temp.audit_field(entry.details)
    ), 'UTF8')), 'hex')
$$;

-- The chain in id order, one entry after the other (a recursive walk: each link needs the last).
CREATE TEMP TABLE audit_backfill ON COMMIT DROP AS
WITH RECURSIVE chain(id, previous_hash, hash) AS (
    SELECT 0::bigint, NULL::text, repeat('0', 64)
    UNION ALL
    SELECT entry.id, chain.hash, pg_temp.audit_link(chain.hash, entry)
    FROM chain JOIN partner_ingest_audit AS entry
        ON entry.id = (SELECT min(id) FROM partner_ingest_audit WHERE id > chain.id)
)
SELECT id, previous_hash, hash FROM chain WHERE id > 0;

-- The trigger that refuses UPDATE is lifted for this one statement, inside this migration's transaction.
ALTER TABLE partner_ingest_audit DISABLE TRIGGER partner_ingest_audit_no_update_or_delete;
UPDATE partner_ingest_audit AS entry
    SET previous_hash = backfill.previous_hash, hash = backfill.hash
    FROM audit_backfill AS backfill
    WHERE backfill.id = entry.id;
ALTER TABLE partner_ingest_audit ENABLE TRIGGER partner_ingest_audit_no_update_or_delete;
ALTER TABLE partner_ingest_audit ALTER COLUMN previous_hash SET NOT NULL;
ALTER TABLE partner_ingest_audit ALTER COLUMN hash SET NOT NULL;
