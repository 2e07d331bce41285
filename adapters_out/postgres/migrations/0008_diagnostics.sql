-- 0008: every error of every rejected item of an import, kept beyond the report's first
-- ones (ADR 0033), until a later import accepts the SKU (resolved) or the retention ends.

CREATE TABLE partner_ingest_diagnostics (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order: the latest wins ties
    import_id     text COLLATE "C" NOT NULL,
    partner_id    text COLLATE "C" NOT NULL,
    seq           integer NOT NULL,                             -- 1.. within the import: the page cursor
    item_index    integer NOT NULL,
    sku           text COLLATE "C",
    field         text NOT NULL,
    code          text NOT NULL,
    message       text NOT NULL,
    location      text,                                         -- Location as JSON
    value         text,                                         -- the offending value, truncated
    raw           text,                                         -- the raw item as JSON, bounded
    raw_truncated boolean NOT NULL DEFAULT false,
    recorded_at   timestamptz NOT NULL,
    resolved_by   text COLLATE "C",                             -- the import that accepted the SKU later
    resolved_at   timestamptz,
    UNIQUE (import_id, seq)
);
CREATE INDEX partner_ingest_diagnostics_code ON partner_ingest_diagnostics (import_id, code, seq);
CREATE INDEX partner_ingest_diagnostics_sku ON partner_ingest_diagnostics (partner_id, sku, id);
CREATE INDEX partner_ingest_diagnostics_open ON partner_ingest_diagnostics (partner_id, sku)
    WHERE resolved_by IS NULL;
CREATE INDEX partner_ingest_diagnostics_recorded ON partner_ingest_diagnostics (recorded_at);

-- How each schedule's last run went, for operators (GET /admin/schedules/{id}).
ALTER TABLE partner_schedules ADD COLUMN last_outcome text;
ALTER TABLE partner_schedules ADD COLUMN last_error text;
ALTER TABLE partner_schedules ADD COLUMN last_job_id text COLLATE "C";

-- How far a running job has read its feed (the worker's heartbeat writes it).
ALTER TABLE partner_ingest_jobs ADD COLUMN items_read bigint NOT NULL DEFAULT 0;
ALTER TABLE partner_ingest_jobs ADD COLUMN bytes_read bigint NOT NULL DEFAULT 0;
