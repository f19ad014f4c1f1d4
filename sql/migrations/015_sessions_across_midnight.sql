-- The sessioniser continues a visit across midnight also when both of its halves are stored
-- before one run (a bulk load, or a run just after midnight): yesterday's and today's hash of the
-- same person are one key while the run cuts events into visits, as ClickHouse's visits are built.
-- Otherwise tally_sessionize is 004's.

-- Adds up to `max_events` newly stored events to their visits; returns how many it took (0 when
-- there is nothing new). Call again until it returns 0.
-- Its scans must be index scans whatever the statistics say: the new events always lie beyond
-- the range the statistics know (so a sequential scan of the month would look cheap), and visits
-- are written faster than autovacuum analyses them (so a scan of every visit per visitor would).
CREATE OR REPLACE FUNCTION tally_sessionize(max_events integer DEFAULT 50000) RETURNS integer
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    lo bigint;
    hi bigint;
    handed_out bigint;
    n integer;
BEGIN
    -- One sessioniser at a time (track.fcgi processes and cron may all try): the others wait,
    -- then find what is left.
    PERFORM pg_advisory_xact_lock(tally_ingest_lock() + 1);
    SELECT done_seq INTO lo FROM sessionize_state;
    -- Ingest transactions hold the ingest lock, shared, while they number events. Holding it
    -- exclusively for an instant means none is in flight: every number handed out so far belongs
    -- to a committed or a rolled-back transaction, so no event below `hi` can appear later.
    -- (A session-level lock, released at once; nothing between the two calls can fail.)
    PERFORM pg_advisory_lock(tally_ingest_lock());
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO handed_out FROM events_seq;
    PERFORM pg_advisory_unlock(tally_ingest_lock());
    hi := least(handed_out, lo + max_events);
    IF hi <= lo THEN
        RETURN 0;
    END IF;

    WITH input AS (
        SELECT e.property_pk, e.ts, e.seq, e.name, e.visitor, e.prev_visitor, e.session AS session_key,
               e.hostname, e.path, e.referrer, e.source, e.utm_source, e.utm_medium, e.utm_campaign,
               e.utm_term, e.utm_content, e.campaign_id, e.country, e.region, e.city, e.device,
               e.browser, e.browser_version, e.os, e.os_version, e.interactive,
               make_interval(secs => p.session_timeout) AS gap, p.timezone
        FROM events e JOIN properties p ON p.pk = e.property_pk
        WHERE e.seq > lo AND e.seq <= hi
    ),
    -- Each visitor's key for building visits: yesterday's hash of the same person (prev_visitor)
    -- when that hash also has events in this run, so that a visit whose two halves arrive together
    -- still continues across midnight (the gaps below still decide whether it does).
    hashes AS (
        SELECT property_pk, visitor, max(prev_visitor) AS prev_visitor
        FROM input WHERE session_key IS NULL GROUP BY property_pk, visitor
    ),
    persons AS (
        SELECT h.property_pk, h.visitor, coalesce(y.visitor, h.visitor) AS person
        FROM hashes h LEFT JOIN hashes y ON y.property_pk = h.property_pk AND y.visitor = h.prev_visitor
                                          AND y.visitor <> h.visitor
    ),
    keyed AS (
        SELECT i.*, coalesce(ps.person, i.visitor) AS person
        FROM input i LEFT JOIN persons ps ON ps.property_pk = i.property_pk AND ps.visitor = i.visitor
                                           AND i.session_key IS NULL
    ),
    -- Each person's first event of this run, to find the visit it may continue.
    visitors AS (
        SELECT property_pk, person AS visitor, max(prev_visitor) FILTER (WHERE visitor = person) AS prev_visitor,
               min(ts) AS first_ts, min(gap) AS gap
        FROM keyed WHERE session_key IS NULL GROUP BY property_pk, person
    ),
    -- Index probes per visitor (LATERAL ... LIMIT 1), under today's hash and yesterday's. Each
    -- probe is an equality on (property_pk, visitor): the plan cannot drift to a range scan of
    -- every visit of the property.
    open AS (
        SELECT v.property_pk, v.visitor, o.session, o.last_seen
        FROM visitors v
        CROSS JOIN LATERAL (
            SELECT c.session, c.last_seen FROM (
                (SELECT s.session, s.last_seen FROM sessions s
                 WHERE s.property_pk = v.property_pk AND s.visitor = v.visitor
                   AND s.started_at <= v.first_ts + v.gap AND s.last_seen >= v.first_ts - v.gap
                 ORDER BY s.last_seen DESC LIMIT 1)
                UNION ALL
                (SELECT s.session, s.last_seen FROM sessions s
                 WHERE s.property_pk = v.property_pk AND s.visitor = v.prev_visitor
                   AND s.started_at <= v.first_ts + v.gap AND s.last_seen >= v.first_ts - v.gap
                 ORDER BY s.last_seen DESC LIMIT 1)) c
            ORDER BY c.last_seen DESC
            LIMIT 1) o
    ),
    marked AS (
        SELECT i.*, o.session AS open_session,
               CASE WHEN i.session_key IS NOT NULL THEN false
                    WHEN lag(i.ts) OVER w IS NULL THEN o.session IS NULL OR i.ts - o.last_seen > i.gap
                    ELSE i.ts - lag(i.ts) OVER w > i.gap END AS starts_visit
        FROM keyed i
        LEFT JOIN open o ON o.property_pk = i.property_pk AND o.visitor = i.person AND i.session_key IS NULL
        WINDOW w AS (PARTITION BY i.property_pk, i.person, i.session_key ORDER BY i.ts, i.seq)
    ),
    numbered AS (
        SELECT m.*, sum(m.starts_visit::int) OVER (PARTITION BY m.property_pk, m.person, m.session_key
                                                  ORDER BY m.ts, m.seq) AS visit_no
        FROM marked m
    ),
    -- A new visit's id comes from its first event's visitor and time, as when its events arrive
    -- in separate runs.
    assigned AS (
        SELECT nb.*,
               CASE WHEN nb.session_key IS NOT NULL THEN nb.session_key
                    WHEN nb.visit_no = 0 THEN nb.open_session
                    ELSE hashtextextended(nb.property_pk || ':' ||
                             first_value(nb.visitor) OVER v || ':' ||
                             (extract(epoch FROM min(nb.ts) OVER v) * 1000)::bigint, 0)
               END AS sid
        FROM numbered nb
        WINDOW v AS (PARTITION BY nb.property_pk, nb.person, nb.session_key, nb.visit_no ORDER BY nb.ts, nb.seq
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ),
    -- What this run adds to each visit; the first event's attributes describe a new visit.
    visits AS (
        SELECT property_pk, sid,
               (array_agg(visitor ORDER BY ts, seq))[1] AS visitor,
               min(ts) AS started_at, max(ts) AS last_seen,
               coalesce((array_agg(path ORDER BY ts, seq) FILTER (WHERE name = 'pageview'))[1], '') AS entry_path,
               coalesce((array_agg(path ORDER BY ts DESC, seq DESC) FILTER (WHERE name = 'pageview'))[1], '') AS exit_path,
               count(*) FILTER (WHERE name = 'pageview') AS pageviews, count(*) AS events,
               count(*) FILTER (WHERE name <> 'pageview' AND interactive) AS interactive,
               (array_agg(ARRAY[hostname, referrer, source, utm_source, utm_medium, utm_campaign,
                                utm_term, utm_content, campaign_id, country, region, city, device,
                                browser, browser_version, os, os_version] ORDER BY ts, seq))[1:1] AS a
        FROM assigned GROUP BY property_pk, sid
    ),
    touched AS (
        INSERT INTO sessions AS s (property_pk, session, visitor, started_at, last_seen, entry_path,
                                   exit_path, pageviews, events, interactive, hostname, referrer,
                                   source, utm_source, utm_medium, utm_campaign, utm_term,
                                   utm_content, campaign_id, country, region, city, device, browser,
                                   browser_version, os, os_version)
        SELECT property_pk, sid, visitor, started_at, last_seen, entry_path, exit_path, pageviews,
               events, interactive, a[1][1], a[1][2], a[1][3], a[1][4], a[1][5], a[1][6], a[1][7],
               a[1][8], a[1][9], a[1][10], a[1][11], a[1][12], a[1][13], a[1][14], a[1][15],
               a[1][16], a[1][17]
        FROM visits ORDER BY property_pk, sid
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
        RETURNING s.property_pk, s.started_at
    ),
    -- The days of the new events, and the start days of the visits they changed (a visit counts on
    -- the day it started), need their rollups rebuilt.
    dirty AS (
        INSERT INTO rollup_dirty (property_pk, day)
        SELECT DISTINCT d.property_pk, d.day FROM (
            SELECT property_pk, (ts AT TIME ZONE timezone)::date AS day FROM input
            UNION
            SELECT t.property_pk, (t.started_at AT TIME ZONE p.timezone)::date
            FROM touched t JOIN properties p ON p.pk = t.property_pk) d
        ORDER BY 1, 2
        ON CONFLICT (property_pk, day) DO UPDATE SET marked_at = now()
    )
    SELECT count(*) INTO n FROM input;

    UPDATE sessionize_state SET done_seq = hi, updated_at = now();
    RETURN n;
END $$;
