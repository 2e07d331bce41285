-- 0008: every error of every rejected item of an import, kept beyond the report's first
-- ones (ADR 0033), until a later import accepts the SKU (resolved) or the retention ends.

CREATE TABLE partner_ingest_diagnostics (
    id            INTEGER PRIMARY KEY,                          -- insertion order: the latest wins ties
    import_id     TEXT NOT NULL,
    partner_id    TEXT NOT NULL,
    seq           INTEGER NOT NULL,                             -- 1.. within the import: the page cursor
    item_index    INTEGER NOT NULL,
    sku           TEXT,
    field         TEXT NOT NULL,
    code          TEXT NOT NULL,
    message       TEXT NOT NULL,
    location      TEXT,                                         -- Location as JSON
    value         TEXT,                                         -- the offending value, truncated
    raw           TEXT,                                         -- the raw item as JSON, bounded
    raw_truncated INTEGER NOT NULL DEFAULT 0,
    recorded_at   TEXT NOT NULL,
    resolved_by   TEXT,                                         -- the import that accepted the SKU later
    resolved_at   TEXT,
    UNIQUE (import_id, seq)
);
CREATE INDEX partner_ingest_diagnostics_code ON partner_ingest_diagnostics (import_id, code, seq);
CREATE INDEX partner_ingest_diagnostics_sku ON partner_ingest_diagnostics (partner_id, sku, id);
CREATE INDEX partner_ingest_diagnostics_open ON partner_ingest_diagnostics (partner_id, sku)
    WHERE resolved_by IS NULL;
CREATE INDEX partner_ingest_diagnostics_recorded ON partner_ingest_diagnostics (recorded_at);

-- How each schedule's last run went, for operators (GET /admin/schedules/{id}).
ALTER TABLE partner_schedules ADD COLUMN last_outcome TEXT;
ALTER TABLE partner_schedules ADD COLUMN last_error TEXT;
ALTER TABLE partner_schedules ADD COLUMN last_job_id TEXT;

-- How far a running job has read its feed (the worker's heartbeat writes it).
ALTER TABLE partner_ingest_jobs ADD COLUMN items_read INTEGER NOT NULL DEFAULT 0;
ALTER TABLE partner_ingest_jobs ADD COLUMN bytes_read INTEGER NOT NULL DEFAULT 0;
