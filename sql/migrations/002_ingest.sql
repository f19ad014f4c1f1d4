-- Ingest in one round trip per batch: dedupe, sessionise and store enriched events with one
-- set-based statement (a fixed number of plans, whatever the batch size).
--
-- `batch` is a JSON array built by track.fcgi; every field is already validated and enriched (no
-- address or user agent is ever passed here). A batch may gather the events of many requests
-- (track.fcgi commits concurrent requests together); each row carries its request's number in
-- `job`, and the result says, per job, how many events it sent and how many were stored (the rest
-- were already known: duplicates).
--
-- Sessions: a visitor's events continue their latest visit while the gap stays under the timeout;
-- `prev_visitor` (yesterday's hash of the same person) lets a visit cross midnight; an explicit
-- session key names the visit instead. New visits get an id derived from the visitor and the
-- time of their first event, so a retried batch lands on the same visit.
-- Rows are written in key order so that concurrent batches take row locks in the same order.
CREATE FUNCTION tally_ingest(p_property integer, p_session_timeout integer, batch jsonb)
RETURNS TABLE (job integer, sent integer, stored integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    gap interval := make_interval(secs => p_session_timeout);
BEGIN
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
            props jsonb)
    ),
    -- The same event id twice in one batch is one event.
    uniq AS (
        SELECT DISTINCT ON (coalesce(event_id, '#' || n)) *
        FROM input ORDER BY coalesce(event_id, '#' || n), n
    ),
    fresh AS (
        INSERT INTO event_ids (property_pk, event_id)
        SELECT p_property, event_id FROM uniq WHERE event_id IS NOT NULL ORDER BY event_id
        ON CONFLICT DO NOTHING
        RETURNING event_id
    ),
    kept AS (
        SELECT u.*, coalesce(u.path, '') AS page, coalesce(u.interactive, true) AS is_interactive
        FROM uniq u
        WHERE u.event_id IS NULL OR u.event_id IN (SELECT event_id FROM fresh)
    ),
    -- Each visitor's latest visit that is still open at their first event of the batch.
    visitors AS (
        SELECT visitor, max(prev_visitor) AS prev_visitor, min(ts) AS first_ts
        FROM kept WHERE session_key IS NULL GROUP BY visitor
    ),
    -- One index probe per visitor (LATERAL ... LIMIT 1): the plan is generic, and a join
    -- strategy chosen without knowing the batch could scan every visit of the property.
    open AS (
        SELECT v.visitor, o.session, o.last_seen
        FROM visitors v
        CROSS JOIN LATERAL (
            SELECT s.session, s.last_seen FROM sessions s
            WHERE s.property_pk = p_property
              AND s.visitor IN (v.visitor, coalesce(v.prev_visitor, v.visitor))
              AND s.last_seen >= v.first_ts - gap
              AND s.started_at <= v.first_ts + gap
            ORDER BY s.last_seen DESC
            LIMIT 1) o
    ),
    marked AS (
        SELECT k.*, o.session AS open_session,
               CASE WHEN k.session_key IS NOT NULL THEN false
                    WHEN lag(k.ts) OVER w IS NULL THEN o.session IS NULL OR k.ts - o.last_seen > gap
                    ELSE k.ts - lag(k.ts) OVER w > gap END AS starts_visit
        FROM kept k LEFT JOIN open o ON o.visitor = k.visitor AND k.session_key IS NULL
        WINDOW w AS (PARTITION BY k.visitor, k.session_key ORDER BY k.ts, k.n)
    ),
    numbered AS (
        SELECT m.*, sum(m.starts_visit::int) OVER (PARTITION BY m.visitor, m.session_key
                                                  ORDER BY m.ts, m.n) AS visit_no
        FROM marked m
    ),
    assigned AS (
        SELECT nb.*,
               CASE WHEN nb.session_key IS NOT NULL THEN nb.session_key
                    WHEN nb.visit_no = 0 THEN nb.open_session
                    ELSE hashtextextended(p_property || ':' || nb.visitor || ':' ||
                             (min(nb.ts_ms) OVER (PARTITION BY nb.visitor, nb.session_key, nb.visit_no)), 0)
               END AS sid
        FROM numbered nb
    ),
    stored_events AS (   -- not read below: runs anyway, as every data-modifying CTE does
        INSERT INTO events (property_pk, ts, event_id, name, visitor, session, hostname, path, query,
                            title, referrer, source, utm_source, utm_medium, utm_campaign, utm_term,
                            utm_content, campaign_id, country, region, city, device, browser,
                            browser_version, os, os_version, screen_width, user_id_hash, interactive,
                            revenue_amount, revenue_currency, props)
        SELECT p_property, ts, event_id, name, visitor, sid, coalesce(hostname, ''), page,
               coalesce(query, ''), coalesce(title, ''), coalesce(referrer, ''), coalesce(source, ''),
               coalesce(utm_source, ''), coalesce(utm_medium, ''), coalesce(utm_campaign, ''),
               coalesce(utm_term, ''), coalesce(utm_content, ''), coalesce(campaign_id, ''),
               coalesce(country, ''), coalesce(region, ''), coalesce(city, ''), coalesce(device, ''),
               coalesce(browser, ''), coalesce(browser_version, ''), coalesce(os, ''),
               coalesce(os_version, ''), screen_width, user_id_hash, is_interactive, revenue_amount,
               revenue_currency, props
        FROM assigned
        RETURNING 1
    ),
    -- What this batch adds to each visit; the first event's attributes describe a new visit.
    visits AS (
        SELECT sid, (array_agg(visitor ORDER BY ts, n))[1] AS visitor,
               min(ts) AS started_at, max(ts) AS last_seen,
               coalesce((array_agg(page ORDER BY ts, n) FILTER (WHERE name = 'pageview'))[1], '') AS entry_path,
               coalesce((array_agg(page ORDER BY ts DESC, n DESC) FILTER (WHERE name = 'pageview'))[1], '') AS exit_path,
               count(*) FILTER (WHERE name = 'pageview') AS pageviews, count(*) AS events,
               count(*) FILTER (WHERE name <> 'pageview' AND is_interactive) AS interactive,
               (array_agg(coalesce(source, '') ORDER BY ts, n))[1] AS source,
               (array_agg(coalesce(utm_source, '') ORDER BY ts, n))[1] AS utm_source,
               (array_agg(coalesce(utm_medium, '') ORDER BY ts, n))[1] AS utm_medium,
               (array_agg(coalesce(utm_campaign, '') ORDER BY ts, n))[1] AS utm_campaign,
               (array_agg(coalesce(country, '') ORDER BY ts, n))[1] AS country,
               (array_agg(coalesce(device, '') ORDER BY ts, n))[1] AS device,
               (array_agg(coalesce(browser, '') ORDER BY ts, n))[1] AS browser,
               (array_agg(coalesce(os, '') ORDER BY ts, n))[1] AS os
        FROM assigned GROUP BY sid
    ),
    touched AS (
        INSERT INTO sessions AS s (property_pk, session, visitor, started_at, last_seen, entry_path,
                                   exit_path, pageviews, events, interactive, source, utm_source,
                                   utm_medium, utm_campaign, country, device, browser, os)
        SELECT p_property, sid, visitor, started_at, last_seen, entry_path, exit_path, pageviews,
               events, interactive, source, utm_source, utm_medium, utm_campaign, country, device,
               browser, os
        FROM visits ORDER BY sid
        ON CONFLICT (property_pk, session) DO UPDATE SET
            entry_path = CASE WHEN excluded.entry_path <> '' AND (excluded.started_at < s.started_at OR s.entry_path = '')
                              THEN excluded.entry_path ELSE s.entry_path END,
            exit_path = CASE WHEN excluded.exit_path <> '' AND excluded.last_seen >= s.last_seen
                             THEN excluded.exit_path ELSE s.exit_path END,
            started_at = least(s.started_at, excluded.started_at),
            last_seen = greatest(s.last_seen, excluded.last_seen),
            pageviews = s.pageviews + excluded.pageviews,
            events = s.events + excluded.events,
            interactive = s.interactive + excluded.interactive
    )
    -- Every event of `kept` is stored. Data-modifying CTEs run to completion whether or not
    -- they are read, so the sessions upsert happens although nothing reads `touched`.
    SELECT i.job, count(*)::integer,
           (SELECT count(*) FROM kept k WHERE k.job IS NOT DISTINCT FROM i.job)::integer
    FROM input i GROUP BY i.job;
END $$;

-- Deliberately no forced generic plan: one chosen while the tables are small (a new property)
-- would be kept for the life of the connection, long after it became a scan of every visit.
