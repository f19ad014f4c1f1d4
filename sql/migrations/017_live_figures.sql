-- Live figures: the site's and each page's figures of today (and of any day not rolled up yet),
-- kept up to date by the sessioniser as events arrive, so that reports need not count the day's
-- raw events and visits.
--
-- Exact, not estimated. Visitors are distinct within a local day, so each live day keeps its set
-- of visitors (and of visitors per page): an event's visitor adds one only when it is new to the
-- set. Pageviews and events add up. A visit counts on the day it started and changes while it
-- lasts, so the visit figures (visits, bounces, duration) move by deltas: each visit a run
-- changes adds its figures as they are now to its start day and takes away its figures as they
-- were, read in the same statement before the upsert (its snapshot), from its former start day.
-- The live rows change in the sessioniser's transaction, so they always agree with `sessions`
-- and with the events up to sessionize_state.done_seq; a report adds the few events after that
-- mark (the tail), counting their visitors only when not already in the day's set.
--
-- A day is live when it has a 'total' row in live_days. It becomes live with its first events
-- (a day that is neither marked dirty nor rolled up has none yet), or is seeded from raw events
-- (tally_live_seed: the recent days when this migration is applied). Closing the day into
-- rollup_days (tally_rollup_day) deletes its live rows; a later event of a closed day leaves it
-- to rollups and raw events as before.
--
-- Also weekly sums of rollups (rollup_weeks, below), so that reports over many closed days read a
-- row per value and week rather than per day; and two fixes to the sessioniser's cost.

CREATE TABLE live_days (
    property_pk integer NOT NULL,
    day         date NOT NULL,
    dim         text NOT NULL,                  -- 'total' (value '') or 'path'
    value       text NOT NULL,
    visitors    bigint NOT NULL DEFAULT 0,      -- distinct in the day (per path: who viewed it)
    pageviews   bigint NOT NULL DEFAULT 0,
    events      bigint NOT NULL DEFAULT 0,
    sessions    bigint NOT NULL DEFAULT 0,      -- 'total' only: visits that started this day
    bounces     bigint NOT NULL DEFAULT 0,
    duration    numeric NOT NULL DEFAULT 0,     -- seconds, exact (rounded when reported, as raw)
    PRIMARY KEY (property_pk, day, dim, value)
) WITH (fillfactor = 50);   -- rows are updated every few seconds: room on the page for HOT updates

-- The visitors seen on a live day, and those who viewed each path.
CREATE TABLE live_visitors (
    property_pk integer NOT NULL,
    day         date NOT NULL,
    visitor     bigint NOT NULL,
    PRIMARY KEY (property_pk, day, visitor)
);
CREATE TABLE live_page_visitors (
    property_pk integer NOT NULL,
    day         date NOT NULL,
    path        text NOT NULL,
    visitor     bigint NOT NULL,
    PRIMARY KEY (property_pk, day, path, visitor)
);

-- Forgets a day's live figures (the 'total' row first: the sessioniser locks it before adding).
CREATE FUNCTION tally_live_forget(p_property integer, p_day date) RETURNS void LANGUAGE sql AS $$
    DELETE FROM live_days WHERE property_pk = p_property AND day = p_day AND dim = 'total' AND value = '';
    DELETE FROM live_days WHERE property_pk = p_property AND day = p_day;
    DELETE FROM live_visitors WHERE property_pk = p_property AND day = p_day;
    DELETE FROM live_page_visitors WHERE property_pk = p_property AND day = p_day;
$$;

-- Makes a day live from its raw events and visits, as of the sessioniser's mark (waits for a
-- running sessioniser). Returns whether the day had events to count.
CREATE FUNCTION tally_live_seed(p_property integer, p_day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    lo timestamptz;
    hi timestamptz;
    mark bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(tally_ingest_lock() + 1);
    SELECT timezone INTO tz FROM properties WHERE pk = p_property;
    IF tz IS NULL THEN
        RETURN false;
    END IF;
    SELECT done_seq INTO mark FROM sessionize_state;
    lo := tally_day_start(p_day, tz);
    hi := tally_day_start(p_day + 1, tz);
    PERFORM tally_live_forget(p_property, p_day);

    INSERT INTO live_visitors (property_pk, day, visitor)
    SELECT DISTINCT p_property, p_day, visitor FROM events
    WHERE property_pk = p_property AND ts >= lo AND ts < hi AND seq <= mark;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO live_page_visitors (property_pk, day, path, visitor)
    SELECT DISTINCT p_property, p_day, path, visitor FROM events
    WHERE property_pk = p_property AND ts >= lo AND ts < hi AND seq <= mark AND name = 'pageview';

    INSERT INTO live_days (property_pk, day, dim, value, visitors, pageviews, events)
    SELECT p_property, p_day, x.dim, x.value,
           CASE WHEN x.dim = 'path' THEN count(DISTINCT e.visitor) FILTER (WHERE e.name = 'pageview')
                ELSE count(DISTINCT e.visitor) END,
           count(*) FILTER (WHERE e.name = 'pageview'), count(*)
    FROM events e CROSS JOIN LATERAL (VALUES ('total', ''), ('path', e.path)) AS x(dim, value)
    WHERE e.property_pk = p_property AND e.ts >= lo AND e.ts < hi AND e.seq <= mark
    GROUP BY x.dim, x.value;

    UPDATE live_days l SET sessions = v.sessions, bounces = v.bounces, duration = v.duration
    FROM (SELECT count(*) AS sessions, count(*) FILTER (WHERE s.pageviews <= 1 AND s.interactive = 0) AS bounces,
                 coalesce(sum(extract(epoch FROM s.last_seen - s.started_at)), 0) AS duration
          FROM sessions s WHERE s.property_pk = p_property AND s.started_at >= lo AND s.started_at < hi) v
    WHERE l.property_pk = p_property AND l.day = p_day AND l.dim = 'total' AND l.value = '';
    RETURN true;
END $$;

-- The events stored after the sessioniser's mark (not yet in the live figures) of a property
-- between two instants. STABLE: it reads the calling statement's snapshot, so the mark is the
-- one the live rows that statement reads are at. Planned with the mark's value, so that the
-- newest events are found through the seq index, however few.
CREATE FUNCTION tally_live_tail(p_property integer, p_lo timestamptz, p_hi timestamptz)
RETURNS TABLE (ts timestamptz, name text, path text, visitor bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    mark bigint;
BEGIN
    IF p_lo IS NULL OR p_hi IS NULL THEN
        RETURN;
    END IF;
    SELECT done_seq INTO mark FROM sessionize_state;
    RETURN QUERY EXECUTE 'SELECT e.ts, e.name, e.path, e.visitor FROM events e'
                         ' WHERE e.seq > $1 AND e.property_pk = $2 AND e.ts >= $3 AND e.ts < $4'
        USING mark, p_property, p_lo, p_hi;
END $$;

-- The sessioniser of 015, also keeping the live figures (and finding yesterday's hash of a person in
-- a hashed set). Without JIT: with sequential scans disabled every statement's estimated cost is
-- far above jit_above_cost, and compiling them took 60 ms a run (the one-row UPDATE below 40).
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

-- Rollups of 005 (013's key), first forgetting the day's live figures.
CREATE OR REPLACE FUNCTION tally_rollup_day(p_property integer, p_day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    lo timestamptz;
    hi timestamptz;
BEGIN
    SELECT timezone INTO tz FROM properties WHERE pk = p_property;
    IF tz IS NULL THEN
        RETURN;   -- the property is gone
    END IF;
    -- The day's live figures give way to its rollups (or to its raw events while it is dirty),
    -- and its week's sums are built again (tally_rollup).
    PERFORM tally_live_forget(p_property, p_day);
    DELETE FROM rollup_week_state WHERE property_pk = p_property AND week = date_trunc('week', p_day)::date;
    DELETE FROM rollup_weeks WHERE property_pk = p_property AND week = date_trunc('week', p_day)::date;
    lo := tally_day_start(p_day, tz);
    hi := tally_day_start(p_day + 1, tz);
    DELETE FROM rollup_days WHERE property_pk = p_property AND day = p_day;
    DELETE FROM rollup_revenue WHERE property_pk = p_property AND day = p_day;

    -- Event dimensions (and the site's visitors, pageviews and events). A page's visitors are
    -- those who viewed it.
    INSERT INTO rollup_days (property_pk, dim, day, value, visitors, pageviews, events)
    SELECT p_property, x.dim, p_day, x.value,
           CASE WHEN x.dim = 'path' THEN count(DISTINCT e.visitor) FILTER (WHERE e.name = 'pageview')
                ELSE count(DISTINCT e.visitor) END,
           count(*) FILTER (WHERE e.name = 'pageview'), count(*)
    FROM events e
    CROSS JOIN LATERAL (VALUES ('total', ''), ('path', e.path), ('hostname', e.hostname),
                               ('event_type', e.name)) AS x(dim, value)
    WHERE e.property_pk = p_property AND e.ts >= lo AND e.ts < hi
    GROUP BY x.dim, x.value;

    -- Custom properties, as dimensions 'prop:<key>'.
    INSERT INTO rollup_days (property_pk, dim, day, value, visitors, pageviews, events)
    SELECT p_property, 'prop:' || kv.key, p_day, kv.value, count(DISTINCT e.visitor),
           count(*) FILTER (WHERE e.name = 'pageview'), count(*)
    FROM events e CROSS JOIN LATERAL jsonb_each_text(e.props) AS kv
    WHERE e.property_pk = p_property AND e.ts >= lo AND e.ts < hi AND e.props IS NOT NULL
    GROUP BY kv.key, kv.value;

    -- Goals: visitors who completed them, completions, and revenue per currency.
    INSERT INTO rollup_days (property_pk, dim, day, value, visitors, pageviews, events)
    SELECT p_property, 'goal', p_day, g.name, count(DISTINCT e.visitor),
           count(*) FILTER (WHERE e.name = 'pageview'), count(*)
    FROM goals g JOIN events e ON e.property_pk = g.property_pk AND tally_goal_hit(g, e.name, e.path)
    WHERE g.property_pk = p_property AND e.ts >= lo AND e.ts < hi
    GROUP BY g.name;
    INSERT INTO rollup_revenue (property_pk, day, goal, currency, amount)
    SELECT p_property, p_day, g.name, e.revenue_currency, sum(e.revenue_amount)
    FROM goals g JOIN events e ON e.property_pk = g.property_pk AND tally_goal_hit(g, e.name, e.path)
    WHERE g.property_pk = p_property AND e.ts >= lo AND e.ts < hi AND e.revenue_amount IS NOT NULL
    GROUP BY g.name, e.revenue_currency;

    -- Visit dimensions, and the site's visits: a visit counts on the day it started.
    INSERT INTO rollup_days AS r (property_pk, dim, day, value, visitors, pageviews, events, sessions,
                                  bounces, duration)
    SELECT p_property, x.dim, p_day, x.value, count(DISTINCT s.visitor), sum(s.pageviews),
           sum(s.events), count(*), count(*) FILTER (WHERE s.pageviews <= 1 AND s.interactive = 0),
           sum(extract(epoch FROM s.last_seen - s.started_at))::bigint
    FROM sessions s
    CROSS JOIN LATERAL (VALUES
        ('total', ''), ('entry_page', s.entry_path), ('exit_page', s.exit_path),
        ('source', s.source), ('referrer', s.referrer), ('utm_source', s.utm_source),
        ('utm_medium', s.utm_medium), ('utm_campaign', s.utm_campaign), ('utm_term', s.utm_term),
        ('utm_content', s.utm_content), ('campaign_id', s.campaign_id),
        ('campaign', coalesce(nullif(s.campaign_id, ''), s.utm_campaign)), ('country', s.country),
        ('region', s.region), ('city', s.city), ('device', s.device), ('browser', s.browser),
        ('browser_version', s.browser_version), ('os', s.os), ('os_version', s.os_version)
    ) AS x(dim, value)
    WHERE s.property_pk = p_property AND s.started_at >= lo AND s.started_at < hi
    GROUP BY x.dim, x.value
    -- 'total' already has the site's event figures: only the visit figures are added.
    ON CONFLICT (property_pk, dim, day, value) DO UPDATE SET
        sessions = excluded.sessions, bounces = excluded.bounces, duration = excluded.duration;

    INSERT INTO rollup_state (property_pk, day) VALUES (p_property, p_day)
    ON CONFLICT (property_pk, day) DO UPDATE SET rolled_at = now();
END $$;


-- Weeks of rollups: the rows of a property's seven closed days (Monday to Sunday) added up, so that
-- a report over many days reads one row per value and week instead of seven. Every figure adds up
-- across days (visitors too: they are distinct per day). A week is built when all seven of its
-- days are rolled up and none is dirty; rebuilding one of its days drops it until it is built
-- again. A report reads a week only while all seven days are still rolled up and not dirty.
CREATE TABLE rollup_weeks (
    property_pk integer NOT NULL,
    week        date NOT NULL,                  -- its Monday
    dim         text NOT NULL,
    value       text NOT NULL,
    visitors    bigint NOT NULL DEFAULT 0,
    pageviews   bigint NOT NULL DEFAULT 0,
    events      bigint NOT NULL DEFAULT 0,
    sessions    bigint NOT NULL DEFAULT 0,
    bounces     bigint NOT NULL DEFAULT 0,
    duration    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (property_pk, week, dim, value)
);
CREATE TABLE rollup_week_state (
    property_pk integer NOT NULL,
    week        date NOT NULL,
    built_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (property_pk, week)
);

-- Builds a week's sums when its seven days are rolled up and clean; returns whether it did.
CREATE FUNCTION tally_rollup_week(p_property integer, p_week date) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rollup_week_state WHERE property_pk = p_property AND week = p_week;
    DELETE FROM rollup_weeks WHERE property_pk = p_property AND week = p_week;
    IF (SELECT count(*) FROM rollup_state r WHERE r.property_pk = p_property AND r.day BETWEEN p_week AND p_week + 6
          AND NOT EXISTS (SELECT 1 FROM rollup_dirty d WHERE d.property_pk = r.property_pk AND d.day = r.day)) < 7 THEN
        RETURN false;
    END IF;
    INSERT INTO rollup_weeks (property_pk, week, dim, value, visitors, pageviews, events, sessions, bounces, duration)
    SELECT p_property, p_week, dim, value, sum(visitors), sum(pageviews), sum(events), sum(sessions), sum(bounces),
           sum(duration)
    FROM rollup_days WHERE property_pk = p_property AND day BETWEEN p_week AND p_week + 6
    GROUP BY dim, value;
    INSERT INTO rollup_week_state (property_pk, week) VALUES (p_property, p_week);
    RETURN true;
END $$;

-- 005's, then the weeks of the days it rolled up.
CREATE OR REPLACE FUNCTION tally_rollup(max_days integer DEFAULT 50) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d record;
    n integer := 0;
    weeks date[] := '{}';
    props integer[] := '{}';
BEGIN
    FOR d IN
        SELECT r.property_pk, r.day, r.marked_at
        FROM rollup_dirty r JOIN properties p ON p.pk = r.property_pk
        WHERE r.day < (now() AT TIME ZONE p.timezone)::date
        ORDER BY r.day, r.property_pk
        LIMIT max_days
    LOOP
        PERFORM tally_rollup_day(d.property_pk, d.day);
        -- A mark made while this day was being rebuilt stays, for the next run.
        DELETE FROM rollup_dirty
        WHERE property_pk = d.property_pk AND day = d.day AND marked_at <= d.marked_at;
        props := props || d.property_pk;
        weeks := weeks || date_trunc('week', d.day)::date;
        n := n + 1;
    END LOOP;
    PERFORM tally_rollup_week(w.property_pk, w.week)
    FROM (SELECT DISTINCT u.property_pk, u.week FROM unnest(props, weeks) AS u(property_pk, week)
          ORDER BY 1, 2) w;
    RETURN n;
END $$;

-- A new time zone moves every day boundary, and a deleted property has no figures: their live
-- rows and weekly sums go (the property's days are then read raw until they are rolled up).
CREATE FUNCTION tally_live_property_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.timezone IS DISTINCT FROM OLD.timezone THEN
        DELETE FROM rollup_week_state WHERE property_pk = OLD.pk;
        DELETE FROM rollup_weeks WHERE property_pk = OLD.pk;
        DELETE FROM live_days WHERE property_pk = OLD.pk;
        DELETE FROM live_visitors WHERE property_pk = OLD.pk;
        DELETE FROM live_page_visitors WHERE property_pk = OLD.pk;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER properties_live_timezone AFTER UPDATE OF timezone ON properties
    FOR EACH ROW EXECUTE FUNCTION tally_live_property_changed();
CREATE TRIGGER properties_live_deleted AFTER DELETE ON properties
    FOR EACH ROW EXECUTE FUNCTION tally_live_property_changed();

-- The weeks already rolled up are added up.
SELECT count(*) FILTER (WHERE tally_rollup_week(w.property_pk, w.week)) AS weeks_built
FROM (SELECT DISTINCT property_pk, date_trunc('week', day)::date AS week FROM rollup_state ORDER BY 1, 2) w;

-- The days already under way (today and yesterday in each property's zone, not rolled up yet)
-- start live from their raw events.
SELECT count(*) FILTER (WHERE tally_live_seed(d.property_pk, d.day)) AS days_seeded
FROM (SELECT r.property_pk, r.day FROM rollup_dirty r JOIN properties p ON p.pk = r.property_pk
      WHERE r.day >= (now() AT TIME ZONE p.timezone)::date - 1
      ORDER BY r.property_pk, r.day) d;
