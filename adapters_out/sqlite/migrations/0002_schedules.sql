-- 0002: scheduled pulls of partner feeds from the partner's own endpoint.

CREATE TABLE partner_schedules (
    id                TEXT PRIMARY KEY,
    partner_id        TEXT NOT NULL REFERENCES partner (id),
    next_run_at       TEXT NOT NULL,
    interval_seconds  INTEGER CHECK (interval_seconds IS NULL OR interval_seconds > 0),
    cron              TEXT,
    enabled           INTEGER NOT NULL DEFAULT 1,
    format            TEXT,
    version           INTEGER,
    last_run_at       TEXT,
    etag              TEXT,
    last_modified     TEXT,
    last_content_hash TEXT,
    CHECK ((interval_seconds IS NULL) <> (cron IS NULL))
);
CREATE INDEX partner_schedules_due ON partner_schedules (enabled, next_run_at);
CREATE INDEX partner_schedules_partner ON partner_schedules (partner_id);
