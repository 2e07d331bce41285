-- 0004: the circuit breaker of each partner feed, shared by every process on this database
-- (ADR 0014). One row per partner and feed URL; the URL is kept as a digest, never in clear.
-- A row is replaced only where its revision is still the one read (optimistic concurrency),
-- so two schedulers never both take a probe or lose each other's failures.

CREATE TABLE partner_fetch_circuits (
    partner_id    TEXT NOT NULL,                    -- '' for a fetch on no partner's behalf
    url_hash      TEXT NOT NULL,
    endpoint      TEXT NOT NULL,                    -- scheme://host:port, for people
    state         TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
    failures      INTEGER NOT NULL CHECK (failures >= 0),
    opened_at     TEXT,
    next_probe_at TEXT,
    probe_token   TEXT,
    probe_until   TEXT,
    revision      INTEGER NOT NULL CHECK (revision > 0),
    PRIMARY KEY (partner_id, url_hash)
) WITHOUT ROWID;
