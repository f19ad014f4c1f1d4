-- Signed browser tokens: short-lived HMAC-SHA256 tokens a site's backend mints (POST /v1/tokens
-- with a read key) and puts in its pages instead of the write key. token_secret signs them;
-- require_token makes browsers (requests with an Origin header) use one.
ALTER TABLE properties ADD COLUMN token_secret bytea NOT NULL DEFAULT tally_random_bytes32()
    CHECK (length(token_secret) = 32);
ALTER TABLE properties ADD COLUMN require_token boolean NOT NULL DEFAULT false;
