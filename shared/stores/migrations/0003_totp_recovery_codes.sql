-- Single-use recovery codes for the second factor. Only a SHA-256 of each code is kept (the
-- codes carry 80 random bits, so a dump cannot be searched back to them); using one deletes its
-- row, which makes "used once" a single atomic statement.
CREATE TABLE IF NOT EXISTS totp_recovery_codes (
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, code_hash)
);
