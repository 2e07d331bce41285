-- 0006: one job state machine and a fair queue (ADR 0025).
--
-- status gains 'cancelled'. SQLite cannot alter a CHECK constraint, so the column is
-- added again with the wider one and the old one dropped: DROP COLUMN rewrites the jobs
-- table only; the bodies, by far the larger table, are not copied.
DROP INDEX partner_ingest_jobs_claim;
ALTER TABLE partner_ingest_jobs RENAME COLUMN status TO status_before_0006;
ALTER TABLE partner_ingest_jobs ADD COLUMN status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'succeeded', 'dead', 'cancelled'));
UPDATE partner_ingest_jobs SET status = status_before_0006;
ALTER TABLE partner_ingest_jobs DROP COLUMN status_before_0006;

-- seq: the submission order, in which a partner's jobs are applied (the store assigns it;
-- clocks of several instances may disagree). Existing jobs are numbered by the time they were submitted.
ALTER TABLE partner_ingest_jobs ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE partner_ingest_jobs SET seq = ordered.n
    FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM partner_ingest_jobs) AS ordered
    WHERE ordered.id = partner_ingest_jobs.id;

-- body_purged_at: when the feed body was deleted by retention; NULL while it is kept.
ALTER TABLE partner_ingest_jobs ADD COLUMN body_purged_at TEXT;

-- At most one running job per partner from now on: any other running job of a partner is
-- given back to the queue (its worker's lease token no longer holds, so it commits nothing).
UPDATE partner_ingest_jobs
    SET status = 'queued', attempts = max(attempts - 1, 0), lease_token = NULL, lease_expires_at = NULL
    WHERE status = 'running' AND seq > (
        SELECT min(seq) FROM partner_ingest_jobs AS other
        WHERE other.partner_id = partner_ingest_jobs.partner_id AND other.status = 'running'
    );

CREATE INDEX partner_ingest_jobs_status ON partner_ingest_jobs (status, created_at);
CREATE INDEX partner_ingest_jobs_seq ON partner_ingest_jobs (seq);
-- A partner's next job: its running one (the unique index also makes a second one impossible),
-- else its first queued one in submission order.
CREATE UNIQUE INDEX partner_ingest_jobs_running ON partner_ingest_jobs (partner_id) WHERE status = 'running';
CREATE INDEX partner_ingest_jobs_queued ON partner_ingest_jobs (partner_id, seq) WHERE status = 'queued';
-- The purge looks at kept bodies of finished jobs only.
CREATE INDEX partner_ingest_jobs_kept_bodies ON partner_ingest_jobs (finished_at) WHERE body_purged_at IS NULL;

-- Each partner's queue: the running number of its latest claim (NULL: never served), so the
-- partner served least recently goes first.
CREATE TABLE partner_ingest_job_queues (
    partner_id TEXT PRIMARY KEY REFERENCES partner (id),
    last_claim INTEGER
);
CREATE INDEX partner_ingest_job_queues_turn ON partner_ingest_job_queues (last_claim, partner_id);
INSERT INTO partner_ingest_job_queues (partner_id) SELECT DISTINCT partner_id FROM partner_ingest_jobs;
