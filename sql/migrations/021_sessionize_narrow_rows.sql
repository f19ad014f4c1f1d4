-- The sessioniser (017's tally_sessionize) with narrower rows. Its window steps, which mark and
-- number each person's visits, sort and copy every event of a run several times; they used to
-- carry all of the event's columns, and the visits' aggregate then built an array of 17 texts
-- for every event only to keep the first event's. Now the events go through those steps with
-- the ten columns they order, group and count by, and each visit takes its visitor and
-- attributes (referrer, source, UTM fields, place, device, browser, OS) from its first event,
-- found by its sequence number in the run's events. Same visits, same live figures.
--
-- On a run of 25,000 events with their attributes filled (a referrer, three UTM fields, place,
-- browser and OS versions), a pass takes 3 to 8% less of PostgreSQL's CPU
-- (tests/bench/sessionize_versions.py).

CREATE OR REPLACE FUNCTION tally_sessionize(max_events integer DEFAULT 50000) RETURNS integer
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
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
               make_interval(secs => p.session_timeout) AS gap, p.timezone,
               (e.ts AT TIME ZONE p.timezone)::date AS day
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
    -- (Looked up in a hashed set: 015's join of `hashes` with itself, estimated at one row, ran as
    -- a nested loop over every pair of the run's visitors, most of a run of a few thousand events.)
    persons AS (
        SELECT h.property_pk, h.visitor,
               CASE WHEN h.prev_visitor <> h.visitor
                         AND (h.property_pk, h.prev_visitor) IN (SELECT property_pk, visitor FROM hashes)
                    THEN h.prev_visitor ELSE h.visitor END AS person
        FROM hashes h
    ),
    keyed AS (
        SELECT i.property_pk, i.ts, i.seq, i.name, i.visitor, i.prev_visitor, i.session_key, i.path,
               i.interactive, i.gap, coalesce(ps.person, i.visitor) AS person
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
               (array_agg(seq ORDER BY ts, seq))[1] AS first_seq,
               min(ts) AS started_at, max(ts) AS last_seen,
               coalesce((array_agg(path ORDER BY ts, seq) FILTER (WHERE name = 'pageview'))[1], '') AS entry_path,
               coalesce((array_agg(path ORDER BY ts DESC, seq DESC) FILTER (WHERE name = 'pageview'))[1], '') AS exit_path,
               count(*) FILTER (WHERE name = 'pageview') AS pageviews, count(*) AS events,
               count(*) FILTER (WHERE name <> 'pageview' AND interactive) AS interactive
        FROM assigned GROUP BY property_pk, sid
    ),
    -- The visits this run changes as they were (the statement's snapshot, which the upsert
    -- below does not change), for the live visit figures.
    before AS (
        SELECT s.property_pk, s.started_at, s.last_seen, s.pageviews, s.interactive
        FROM visits v JOIN sessions s ON s.property_pk = v.property_pk AND s.session = v.sid
    ),
    touched AS (
        INSERT INTO sessions AS s (property_pk, session, visitor, started_at, last_seen, entry_path,
                                   exit_path, pageviews, events, interactive, hostname, referrer,
                                   source, utm_source, utm_medium, utm_campaign, utm_term,
                                   utm_content, campaign_id, country, region, city, device, browser,
                                   browser_version, os, os_version)
        SELECT v.property_pk, v.sid, f.visitor, v.started_at, v.last_seen, v.entry_path, v.exit_path,
               v.pageviews, v.events, v.interactive, f.hostname, f.referrer, f.source, f.utm_source,
               f.utm_medium, f.utm_campaign, f.utm_term, f.utm_content, f.campaign_id, f.country,
               f.region, f.city, f.device, f.browser, f.browser_version, f.os, f.os_version
        FROM visits v JOIN input f ON f.seq = v.first_seq ORDER BY v.property_pk, v.sid
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
        RETURNING s.property_pk, s.started_at, s.last_seen, s.pageviews, s.interactive
    ),
    -- The days of the new events, and the start days of the visits they changed (a visit counts on
    -- the day it started), need their rollups rebuilt.
    dirty AS (
        INSERT INTO rollup_dirty (property_pk, day)
        SELECT DISTINCT d.property_pk, d.day FROM (
            SELECT property_pk, day FROM input
            UNION
            SELECT t.property_pk, (t.started_at AT TIME ZONE p.timezone)::date
            FROM touched t JOIN properties p ON p.pk = t.property_pk) d
        ORDER BY 1, 2
        ON CONFLICT (property_pk, day) DO UPDATE SET marked_at = now()
    ),
    -- Live figures (above). The live days this run touches: those already live, their 'total'
    -- rows locked so that a rollup closing one of them (deleting its live rows) cannot interleave
    -- (a day deleted meanwhile is skipped), and the days whose first events these are.
    run_days AS (
        SELECT property_pk, day FROM input
        UNION
        SELECT b.property_pk, (b.started_at AT TIME ZONE p.timezone)::date
        FROM before b JOIN properties p ON p.pk = b.property_pk
    ),
    held AS MATERIALIZED (
        SELECT l.property_pk, l.day FROM live_days l
        WHERE (l.property_pk, l.day) IN (SELECT property_pk, day FROM run_days)
          AND l.dim = 'total' AND l.value = ''
        FOR UPDATE
    ),
    fresh AS (
        SELECT DISTINCT i.property_pk, i.day FROM input i
        WHERE NOT EXISTS (SELECT 1 FROM live_days l WHERE l.property_pk = i.property_pk AND l.day = i.day
                                                      AND l.dim = 'total' AND l.value = '')
          AND NOT EXISTS (SELECT 1 FROM rollup_dirty r WHERE r.property_pk = i.property_pk AND r.day = i.day)
          AND NOT EXISTS (SELECT 1 FROM rollup_state r WHERE r.property_pk = i.property_pk AND r.day = i.day)
    ),
    live AS MATERIALIZED (
        SELECT property_pk, day FROM held UNION SELECT property_pk, day FROM fresh
    ),
    live_input AS (
        SELECT i.property_pk, i.day, i.name, i.path, i.visitor
        FROM input i JOIN live l ON l.property_pk = i.property_pk AND l.day = i.day
    ),
    new_visitors AS (
        INSERT INTO live_visitors (property_pk, day, visitor)
        SELECT DISTINCT property_pk, day, visitor FROM live_input ORDER BY 1, 2, 3
        ON CONFLICT DO NOTHING
        RETURNING property_pk, day
    ),
    new_page_visitors AS (
        INSERT INTO live_page_visitors (property_pk, day, path, visitor)
        SELECT DISTINCT property_pk, day, path, visitor FROM live_input WHERE name = 'pageview'
        ORDER BY 1, 2, 3, 4
        ON CONFLICT DO NOTHING
        RETURNING property_pk, day, path
    ),
    -- Each changed visit: +1 on its start day as it is now, -1 on its start day as it was.
    visit_changes AS (
        SELECT t.property_pk, (t.started_at AT TIME ZONE p.timezone)::date AS day, 1 AS sign,
               t.started_at, t.last_seen, t.pageviews, t.interactive
        FROM touched t JOIN properties p ON p.pk = t.property_pk
        UNION ALL
        SELECT b.property_pk, (b.started_at AT TIME ZONE p.timezone)::date, -1,
               b.started_at, b.last_seen, b.pageviews, b.interactive
        FROM before b JOIN properties p ON p.pk = b.property_pk
    ),
    live_changes (property_pk, day, dim, value, visitors, pageviews, events, sessions, bounces, duration) AS (
        SELECT property_pk, day, 'total', '', 0::bigint, count(*) FILTER (WHERE name = 'pageview'), count(*),
               0::bigint, 0::bigint, 0::numeric
        FROM live_input GROUP BY property_pk, day
        UNION ALL
        SELECT property_pk, day, 'path', path, 0, count(*) FILTER (WHERE name = 'pageview'), count(*), 0, 0, 0
        FROM live_input GROUP BY property_pk, day, path
        UNION ALL
        SELECT property_pk, day, 'total', '', count(*), 0, 0, 0, 0, 0 FROM new_visitors GROUP BY property_pk, day
        UNION ALL
        SELECT property_pk, day, 'path', path, count(*), 0, 0, 0, 0, 0
        FROM new_page_visitors GROUP BY property_pk, day, path
        UNION ALL
        SELECT c.property_pk, c.day, 'total', '', 0, 0, 0, sum(c.sign),
               coalesce(sum(c.sign) FILTER (WHERE c.pageviews <= 1 AND c.interactive = 0), 0),
               sum(c.sign * extract(epoch FROM c.last_seen - c.started_at))
        FROM visit_changes c JOIN live l ON l.property_pk = c.property_pk AND l.day = c.day
        GROUP BY c.property_pk, c.day
    ),
    live_written AS (
        INSERT INTO live_days AS l (property_pk, day, dim, value, visitors, pageviews, events, sessions,
                                    bounces, duration)
        SELECT property_pk, day, dim, value, sum(visitors), sum(pageviews), sum(events), sum(sessions),
               sum(bounces), sum(duration)
        FROM live_changes GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (property_pk, day, dim, value) DO UPDATE SET
            visitors = l.visitors + excluded.visitors, pageviews = l.pageviews + excluded.pageviews,
            events = l.events + excluded.events, sessions = l.sessions + excluded.sessions,
            bounces = l.bounces + excluded.bounces, duration = l.duration + excluded.duration
    )
    SELECT count(*) INTO n FROM input;

    UPDATE sessionize_state SET done_seq = hi, updated_at = now();
    RETURN n;
END $$;
