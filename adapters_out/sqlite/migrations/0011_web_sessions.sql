-- 0011: the sessions of the partner portal and the admin console (ADR 0038).
-- Only the SHA-256 digest of a session token is stored; expires_at is indexed for the purge.

CREATE TABLE partner_web_sessions (
    token_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('partner', 'admin')),
    partner_id TEXT,
    key_id TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX partner_web_sessions_expires ON partner_web_sessions (expires_at);
