-- 0004: the circuit breaker of each partner feed, shared by every process on this schema
-- (ADR 0014). One row per partner and feed URL; the URL is kept as a digest, never in clear.
-- A row is replaced only where its revision is still the one read (optimistic concurrency:
-- READ COMMITTED rechecks the revision on the newest row version after a concurrent update),
-- so two schedulers never both take a probe or lose each other's failures.

CREATE TABLE partner_fetch_circuits (
    partner_id    text COLLATE "C" NOT NULL,        -- '' for a fetch on no partner's behalf
    url_hash      text COLLATE "C" NOT NULL,
    endpoint      text NOT NULL,                    -- scheme://host:port, for people
    state         text NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
    failures      bigint NOT NULL CHECK (failures >= 0),
    opened_at     timestamptz,
    next_probe_at timestamptz,
    probe_token   text,
    probe_until   timestamptz,
    revision      bigint NOT NULL CHECK (revision > 0),
    PRIMARY KEY (partner_id, url_hash)
);
