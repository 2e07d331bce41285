-- 0011: the sessions of the partner portal and the admin console (ADR 0038).
-- Only the SHA-256 digest of a session token is stored; expires_at is indexed for the purge.

CREATE TABLE partner_web_sessions (
    token_hash text PRIMARY KEY,
    role text NOT NULL CHECK (role IN ('partner', 'admin')),
    partner_id text,
    key_id text NOT NULL,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX partner_web_sessions_expires ON partner_web_sessions (expires_at);
