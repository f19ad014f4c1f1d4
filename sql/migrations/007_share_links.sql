-- Public share links: a read-only view of one property's reports for whoever holds the token.
-- Like API keys, only the SHA-256 of the token is stored; `prefix` lets a person recognise it.
CREATE TABLE share_links (
    id          bigserial PRIMARY KEY,
    property_pk integer NOT NULL REFERENCES properties(pk) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    prefix      text NOT NULL,
    name        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
