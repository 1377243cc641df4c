-- One row per login: the refresh-token family. Rotation swaps current_jti in one statement,
-- so of two concurrent refreshes of one token exactly one wins.
CREATE TABLE IF NOT EXISTS refresh_families (
    id            TEXT        PRIMARY KEY,
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    current_jti   TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    rotated_at    TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS refresh_families_user_idx ON refresh_families (user_id);
