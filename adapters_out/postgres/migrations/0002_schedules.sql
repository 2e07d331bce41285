-- 0002: scheduled pulls of partner feeds from the partner's own endpoint.

CREATE TABLE partner_schedules (
    id                text COLLATE "C" PRIMARY KEY,
    partner_id        text COLLATE "C" NOT NULL REFERENCES partner (id),
    next_run_at       timestamptz NOT NULL,
    interval_seconds  bigint CHECK (interval_seconds IS NULL OR interval_seconds > 0),
    cron              text,
    enabled           boolean NOT NULL DEFAULT true,
    format            text,
    version           bigint,
    last_run_at       timestamptz,
    etag              text,
    last_modified     text,
    last_content_hash text,
    CHECK ((interval_seconds IS NULL) <> (cron IS NULL))
);
-- Claiming reads the enabled schedules in due order and stops at the limit.
CREATE INDEX partner_schedules_due ON partner_schedules (next_run_at, id) WHERE enabled;
CREATE INDEX partner_schedules_partner ON partner_schedules (partner_id);
