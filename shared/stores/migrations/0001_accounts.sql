-- Accounts. Personal data is stored encrypted (AES-256-GCM, key version inside each ciphertext)
-- and found through keyed HMAC-SHA-256 blind indexes.
CREATE TABLE IF NOT EXISTS users (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username         TEXT        NOT NULL,
    password_hash    TEXT        NOT NULL,
    email_cipher     BYTEA       NOT NULL,
    email_index      BYTEA       NOT NULL,
    phone_cipher     BYTEA,
    phone_index      BYTEA,
    totp_cipher      BYTEA,
    totp_pending     BYTEA,
    totp_enabled     BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX IF NOT EXISTS users_username_key ON users (lower(username));
CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON users (email_index);
CREATE UNIQUE INDEX IF NOT EXISTS users_phone_key ON users (phone_index) WHERE phone_index IS NOT NULL;
