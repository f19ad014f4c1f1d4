-- Ingest in one round trip: dedupe, sessionise and store a batch of enriched events.
--
-- `batch` is a JSON array built by track.fcgi; every field is already validated and enriched
-- (no address or user agent is ever passed here). Events are taken in time order so that a
-- visitor's session is extended the way it happened. Returns how many were stored and how many
-- were already known by their event_id.
CREATE FUNCTION tally_ingest(p_property integer, p_session_timeout integer, batch jsonb,
                             OUT stored integer, OUT duplicates integer)
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    gap interval := make_interval(secs => p_session_timeout);
    sid bigint;
    is_pageview boolean;
BEGIN
    stored := 0;
    duplicates := 0;
    FOR e IN
        SELECT * FROM jsonb_to_recordset(batch) AS x(
            event_id text, ts_ms bigint, name text, visitor bigint, prev_visitor bigint,
            session_key bigint, hostname text, path text, query text, title text, referrer text,
            source text, utm_source text, utm_medium text, utm_campaign text, utm_term text,
            utm_content text, campaign_id text, country text, region text, city text, device text,
            browser text, browser_version text, os text, os_version text, screen_width integer,
            user_id_hash text, interactive boolean, revenue_amount numeric, revenue_currency text,
            props jsonb)
        ORDER BY ts_ms
    LOOP
        IF e.event_id IS NOT NULL THEN
            INSERT INTO event_ids (property_pk, event_id) VALUES (p_property, e.event_id)
            ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                duplicates := duplicates + 1;
                CONTINUE;
            END IF;
        END IF;

        sid := tally_session_touch(p_property, gap, e.session_key, e.visitor, e.prev_visitor,
                                   to_timestamp(e.ts_ms / 1000.0), e.name = 'pageview',
                                   coalesce(e.interactive, true), coalesce(e.path, ''),
                                   coalesce(e.source, ''), coalesce(e.utm_source, ''),
                                   coalesce(e.utm_medium, ''), coalesce(e.utm_campaign, ''),
                                   coalesce(e.country, ''), coalesce(e.device, ''),
                                   coalesce(e.browser, ''), coalesce(e.os, ''));

        INSERT INTO events (property_pk, ts, event_id, name, visitor, session, hostname, path, query,
                            title, referrer, source, utm_source, utm_medium, utm_campaign, utm_term,
                            utm_content, campaign_id, country, region, city, device, browser,
                            browser_version, os, os_version, screen_width, user_id_hash, interactive,
                            revenue_amount, revenue_currency, props)
        VALUES (p_property, to_timestamp(e.ts_ms / 1000.0), e.event_id, e.name, e.visitor, sid,
                coalesce(e.hostname, ''), coalesce(e.path, ''), coalesce(e.query, ''),
                coalesce(e.title, ''), coalesce(e.referrer, ''), coalesce(e.source, ''),
                coalesce(e.utm_source, ''), coalesce(e.utm_medium, ''), coalesce(e.utm_campaign, ''),
                coalesce(e.utm_term, ''), coalesce(e.utm_content, ''), coalesce(e.campaign_id, ''),
                coalesce(e.country, ''), coalesce(e.region, ''), coalesce(e.city, ''),
                coalesce(e.device, ''), coalesce(e.browser, ''), coalesce(e.browser_version, ''),
                coalesce(e.os, ''), coalesce(e.os_version, ''), e.screen_width, e.user_id_hash,
                coalesce(e.interactive, true), e.revenue_amount, e.revenue_currency, e.props);
        stored := stored + 1;
    END LOOP;
END $$;

-- Finds the visit an event belongs to and extends it, or opens a new one. A visit continues while
-- the gap between events stays under the property's timeout; `prev_visitor` (the same person's
-- hash under yesterday's salt) lets a visit cross midnight. An explicit session key from the
-- client names the visit instead.
CREATE FUNCTION tally_session_touch(p_property integer, gap interval, p_session_key bigint,
                                    p_visitor bigint, p_prev_visitor bigint, p_ts timestamptz,
                                    p_pageview boolean, p_interactive boolean, p_path text,
                                    p_source text, p_utm_source text, p_utm_medium text,
                                    p_utm_campaign text, p_country text, p_device text,
                                    p_browser text, p_os text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    sid bigint;
BEGIN
    IF p_session_key IS NOT NULL THEN
        sid := p_session_key;
        PERFORM 1 FROM sessions WHERE property_pk = p_property AND session = sid;
        IF NOT FOUND THEN
            sid := NULL;
        END IF;
    ELSE
        SELECT session INTO sid FROM sessions
         WHERE property_pk = p_property
           AND visitor IN (p_visitor, coalesce(p_prev_visitor, p_visitor))
           AND last_seen >= p_ts - gap AND started_at <= p_ts + gap
         ORDER BY last_seen DESC
         LIMIT 1;
    END IF;

    IF sid IS NULL THEN
        sid := coalesce(p_session_key,
                        ('x' || substr(md5(p_visitor::text || ':' || p_ts::text || ':' || random()::text), 1, 16))::bit(64)::bigint);
        INSERT INTO sessions (property_pk, session, visitor, started_at, last_seen, entry_path,
                              exit_path, pageviews, events, interactive, source, utm_source,
                              utm_medium, utm_campaign, country, device, browser, os)
        VALUES (p_property, sid, p_visitor, p_ts, p_ts,
                CASE WHEN p_pageview THEN p_path ELSE '' END,
                CASE WHEN p_pageview THEN p_path ELSE '' END,
                p_pageview::int, 1, (NOT p_pageview AND p_interactive)::int, p_source, p_utm_source,
                p_utm_medium, p_utm_campaign, p_country, p_device, p_browser, p_os);
        RETURN sid;
    END IF;

    UPDATE sessions SET
        entry_path  = CASE WHEN p_pageview AND (p_ts < started_at OR entry_path = '') THEN p_path ELSE entry_path END,
        exit_path   = CASE WHEN p_pageview AND p_ts >= last_seen THEN p_path ELSE exit_path END,
        started_at  = least(started_at, p_ts),
        last_seen   = greatest(last_seen, p_ts),
        pageviews   = pageviews + p_pageview::int,
        events      = events + 1,
        interactive = interactive + (NOT p_pageview AND p_interactive)::int
     WHERE property_pk = p_property AND session = sid;
    RETURN sid;
END $$;
