-- Revenue attribution, server keys and funnels.
--
-- visit_token: a random token the tracker makes per page load and sends with each event; a
-- merchant puts it in the checkout's metadata, so that a payment reported by Stripe's webhook is
-- credited to the visit (source, campaign, landing page, country) it came from. It says nothing
-- about the person and lives in no cookie.
ALTER TABLE events ADD COLUMN visit_token text;

-- Server keys (sk_...): write keys for a site's backend, which may also pass the end user's address
-- and user agent with each event (context.client), so server events join the browser's visitor.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_kind_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_kind_check CHECK (kind IN ('write', 'read', 'server'));

-- Stripe webhook signing secret (whsec_...): the HMAC key of Stripe-Signature. Stored as given:
-- whoever can read this table can already write events.
ALTER TABLE properties ADD COLUMN stripe_webhook_secret text;

-- Funnels: ordered steps within a visit, each a condition on a pageview's path or an event's name
-- (steps: [{"dimension": "path"|"event_type"|"goal", "op": "==" | "=~", "value": "..."}, ...]).
CREATE TABLE funnels (
    id          bigserial PRIMARY KEY,
    property_pk integer NOT NULL REFERENCES properties(pk) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    steps       jsonb NOT NULL CHECK (jsonb_typeof(steps) = 'array' AND jsonb_array_length(steps) BETWEEN 2 AND 8),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (property_pk, name)
);
