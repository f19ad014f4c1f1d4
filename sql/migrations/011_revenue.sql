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

-- tally_ingest (002) with visit_token.
CREATE OR REPLACE FUNCTION tally_ingest(p_property integer, batch jsonb)
RETURNS TABLE (job integer, sent integer, stored integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock_shared(tally_ingest_lock());
    RETURN QUERY
    WITH input AS (
        SELECT x.*, to_timestamp(x.ts_ms / 1000.0) AS ts, row_number() OVER () AS n
        FROM jsonb_to_recordset(batch) AS x(
            job integer, event_id text, ts_ms bigint, name text, visitor bigint, prev_visitor bigint,
            session_key bigint, hostname text, path text, query text, title text, referrer text,
            source text, utm_source text, utm_medium text, utm_campaign text, utm_term text,
            utm_content text, campaign_id text, country text, region text, city text, device text,
            browser text, browser_version text, os text, os_version text, screen_width integer,
            user_id_hash text, interactive boolean, revenue_amount numeric, revenue_currency text,
            props jsonb, visit_token text)
    ),
    -- The same event id twice in one batch is one event.
    uniq AS (
        SELECT DISTINCT ON (coalesce(event_id, '#' || n)) *
        FROM input ORDER BY coalesce(event_id, '#' || n), n
    ),
    -- Ids are claimed in key order so that concurrent batches take row locks in the same order.
    fresh AS (
        INSERT INTO event_ids (property_pk, event_id)
        SELECT p_property, event_id FROM uniq WHERE event_id IS NOT NULL ORDER BY event_id
        ON CONFLICT DO NOTHING
        RETURNING event_id
    ),
    kept AS (
        SELECT u.* FROM uniq u
        WHERE u.event_id IS NULL OR u.event_id IN (SELECT event_id FROM fresh)
    ),
    stored_events AS (   -- not read below: runs anyway, as every data-modifying CTE does
        INSERT INTO events (property_pk, ts, event_id, name, visitor, prev_visitor, session, hostname,
                            path, query, title, referrer, source, utm_source, utm_medium,
                            utm_campaign, utm_term, utm_content, campaign_id, country, region, city,
                            device, browser, browser_version, os, os_version, screen_width,
                            user_id_hash, interactive, revenue_amount, revenue_currency, props,
                            visit_token)
        SELECT p_property, ts, event_id, name, visitor, prev_visitor, session_key,
               coalesce(hostname, ''), coalesce(path, ''), coalesce(query, ''), coalesce(title, ''),
               coalesce(referrer, ''), coalesce(source, ''), coalesce(utm_source, ''),
               coalesce(utm_medium, ''), coalesce(utm_campaign, ''), coalesce(utm_term, ''),
               coalesce(utm_content, ''), coalesce(campaign_id, ''), coalesce(country, ''),
               coalesce(region, ''), coalesce(city, ''), coalesce(device, ''), coalesce(browser, ''),
               coalesce(browser_version, ''), coalesce(os, ''), coalesce(os_version, ''),
               screen_width, user_id_hash, coalesce(interactive, true), revenue_amount,
               revenue_currency, props, visit_token
        FROM kept ORDER BY n
        RETURNING 1
    )
    SELECT i.job, count(*)::integer,
           (SELECT count(*) FROM kept k WHERE k.job IS NOT DISTINCT FROM i.job)::integer
    FROM input i GROUP BY i.job;
END $$;
