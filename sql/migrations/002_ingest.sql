-- Ingest in one round trip per batch: dedupe and append enriched events with one set-based
-- statement (a fixed number of plans, whatever the batch size).
--
-- (events.visit_token is added by 011_revenue.sql; PL/pgSQL resolves it when the function runs.)
--
-- `batch` is a JSON array built by track.fcgi; every field is already validated and enriched (no
-- address or user agent is ever passed here). A batch may gather the events of many requests
-- (track.fcgi commits concurrent requests together); each row carries its request's number in
-- `job`, and the result says, per job, how many events it sent and how many were stored (the rest
-- were already known: duplicates).
--
-- Nothing else happens on the request path: visits are built from the stored events by the
-- sessioniser (004), in bulk, after the events are committed.

-- Ingest transactions hold this lock (shared, until commit) while they draw numbers from
-- events_seq; the sessioniser takes it exclusively for an instant to learn which numbers belong to
-- finished transactions. See tally_sessionize().
CREATE FUNCTION tally_ingest_lock() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT 7318001::bigint $$;

CREATE FUNCTION tally_ingest(p_property integer, batch jsonb)
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
    -- The same event id twice in one batch is one event. Rows of a property deleted meanwhile (a
    -- spool replayed late) are dropped.
    uniq AS (
        SELECT DISTINCT ON (coalesce(event_id, '#' || n)) *
        FROM input WHERE EXISTS (SELECT 1 FROM properties WHERE pk = p_property)
        ORDER BY coalesce(event_id, '#' || n), n
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
