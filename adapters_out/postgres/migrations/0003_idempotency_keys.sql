-- One Idempotency-Key space per partner, shared by feeds processed at once and jobs,
-- and the fingerprint of every import (its body and the terms it was processed under),
-- so that a key or identical content is answered as a repeat only for the same request.

ALTER TABLE partner_feed_imports ADD COLUMN fingerprint text;   -- FeedFingerprint as JSON; NULL before this

CREATE TABLE partner_idempotency_keys (
    partner_id  text COLLATE "C" NOT NULL REFERENCES partner (id),
    key         text NOT NULL,
    fingerprint text NOT NULL,                                  -- FeedFingerprint as JSON text
    feed_id     text COLLATE "C",                               -- processed at once, or
    job_id      text COLLATE "C",                               -- submitted as a job
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (partner_id, key),
    CHECK ((feed_id IS NULL) <> (job_id IS NULL))
);

-- The keys used before: their terms beyond body, format and version are unknown (null),
-- and are then not compared. A key both tables hold keeps its job (the first stored wins).
INSERT INTO partner_idempotency_keys (partner_id, key, fingerprint, feed_id, job_id, created_at)
    SELECT partner_id, idempotency_key,
           json_build_object('content_hash', content_hash, 'format', format, 'version', version,
                             'mode', NULL, 'atomic', NULL, 'max_error_ratio', NULL)::text,
           NULL, id, created_at
    FROM partner_ingest_jobs WHERE idempotency_key IS NOT NULL
    ON CONFLICT DO NOTHING;
INSERT INTO partner_idempotency_keys (partner_id, key, fingerprint, feed_id, job_id, created_at)
    SELECT partner_id, idempotency_key,
           json_build_object('content_hash', content_hash, 'format', format, 'version', version,
                             'mode', NULL, 'atomic', NULL, 'max_error_ratio', NULL)::text,
           id, NULL, received_at
    FROM partner_feed_imports WHERE idempotency_key IS NOT NULL
    ON CONFLICT DO NOTHING;
