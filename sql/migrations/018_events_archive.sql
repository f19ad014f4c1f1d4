-- Archive of closed days: a property's raw events of a UTC day, once the day is a few days old,
-- are moved out of the events table into a few rows of events_archive holding one array per
-- column, which PostgreSQL compresses (pglz, which packs these columns a fifth smaller than lz4
-- does, for a little more time when archiving). Analytics rows repeat themselves (the same paths,
-- referrers, browsers and countries over and over, a visitor's events side by side), so a day
-- takes about a third of its size as rows, indexes included.
--
-- Readers that may need closed days read tally_events(property, lo, hi): the events of the
-- events table and of the archive in [lo, hi), with the columns of events. Its archive half
-- reads only the archive rows of the UTC days the range touches. Readers of the newest events
-- only (the sessioniser, the live tail, realtime, today's quota) keep reading events.
--
-- The events table keeps one partition per UTC day from now on (tally_ensure_day_partitions):
-- a day's partition is dropped once its events are archived, which gives its space back at once
-- (deleted rows would only leave free space behind). Monthly partitions created before are
-- archived the same way and their days still to come split into daily partitions.
--
-- An event stays in events until the sessioniser has added it to a visit (seq <= done_seq), so
-- that the sessioniser and the live figures never need the archive. A late event for an
-- archived day lands in events (its day's partition, or the default one) and is merged into the
-- day's archive rows by the next run.

-- Events of a property and UTC day, one array per column of events (same names and order), in
-- parts of at most 100,000 events, ordered by visitor and time so that a visitor's events lie
-- side by side and compress together.
CREATE TABLE events_archive (
    property_pk      integer NOT NULL REFERENCES properties(pk) ON DELETE CASCADE,
    day              date NOT NULL,             -- the UTC day of every event of the row
    part             integer NOT NULL,
    events           integer NOT NULL,
    ts_lo            timestamptz NOT NULL,      -- first and last instant of the row's events
    ts_hi            timestamptz NOT NULL,
    ts               timestamptz[] COMPRESSION pglz,
    seq              bigint[] COMPRESSION pglz,
    event_id         text[] COMPRESSION pglz,
    name             text[] COMPRESSION pglz,
    visitor          bigint[] COMPRESSION pglz,
    prev_visitor     bigint[] COMPRESSION pglz,
    session          bigint[] COMPRESSION pglz,
    hostname         text[] COMPRESSION pglz,
    path             text[] COMPRESSION pglz,
    query            text[] COMPRESSION pglz,
    title            text[] COMPRESSION pglz,
    referrer         text[] COMPRESSION pglz,
    source           text[] COMPRESSION pglz,
    utm_source       text[] COMPRESSION pglz,
    utm_medium       text[] COMPRESSION pglz,
    utm_campaign     text[] COMPRESSION pglz,
    utm_term         text[] COMPRESSION pglz,
    utm_content      text[] COMPRESSION pglz,
    campaign_id      text[] COMPRESSION pglz,
    country          text[] COMPRESSION pglz,
    region           text[] COMPRESSION pglz,
    city             text[] COMPRESSION pglz,
    device           text[] COMPRESSION pglz,
    browser          text[] COMPRESSION pglz,
    browser_version  text[] COMPRESSION pglz,
    os               text[] COMPRESSION pglz,
    os_version       text[] COMPRESSION pglz,
    screen_width     integer[] COMPRESSION pglz,
    user_id_hash     text[] COMPRESSION pglz,
    interactive      boolean[] COMPRESSION pglz,
    revenue_amount   numeric(18,4)[] COMPRESSION pglz,
    revenue_currency text[] COMPRESSION pglz,
    props            jsonb[] COMPRESSION pglz,
    visit_token      text[] COMPRESSION pglz,
    PRIMARY KEY (property_pk, day, part)
);

-- Events per archive row: big enough to compress well, small enough that reading one column of
-- a row (decompressed whole) stays a few megabytes.
CREATE FUNCTION tally_archive_part_size() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 100000 $$;

-- The events of a property in [lo, hi), stored or archived. Written as one SQL statement so that
-- PostgreSQL inlines it into the caller's query: the bounds then prune the partitions of events
-- and the archive's days, and the caller's other conditions apply to both halves. The arrays are
-- unpacked by set-returning functions in the select list, which PostgreSQL runs in step, one
-- element of each per row (several times faster than unnest() in FROM, which stores each
-- function's output before joining them up).
CREATE FUNCTION tally_events(p_property integer, lo timestamptz, hi timestamptz) RETURNS SETOF events
LANGUAGE sql STABLE AS $$
    SELECT * FROM events e WHERE e.property_pk = p_property AND e.ts >= lo AND e.ts < hi
    UNION ALL
    SELECT u.*
    FROM (SELECT a.property_pk,
               unnest(a.ts) AS ts,
               unnest(a.seq) AS seq,
               unnest(a.event_id) AS event_id,
               unnest(a.name) AS name,
               unnest(a.visitor) AS visitor,
               unnest(a.prev_visitor) AS prev_visitor,
               unnest(a.session) AS session,
               unnest(a.hostname) AS hostname,
               unnest(a.path) AS path,
               unnest(a.query) AS query,
               unnest(a.title) AS title,
               unnest(a.referrer) AS referrer,
               unnest(a.source) AS source,
               unnest(a.utm_source) AS utm_source,
               unnest(a.utm_medium) AS utm_medium,
               unnest(a.utm_campaign) AS utm_campaign,
               unnest(a.utm_term) AS utm_term,
               unnest(a.utm_content) AS utm_content,
               unnest(a.campaign_id) AS campaign_id,
               unnest(a.country) AS country,
               unnest(a.region) AS region,
               unnest(a.city) AS city,
               unnest(a.device) AS device,
               unnest(a.browser) AS browser,
               unnest(a.browser_version) AS browser_version,
               unnest(a.os) AS os,
               unnest(a.os_version) AS os_version,
               unnest(a.screen_width) AS screen_width,
               unnest(a.user_id_hash) AS user_id_hash,
               unnest(a.interactive) AS interactive,
               unnest(a.revenue_amount) AS revenue_amount,
               unnest(a.revenue_currency) AS revenue_currency,
               unnest(a.props) AS props,
               unnest(a.visit_token) AS visit_token
          FROM events_archive a
          WHERE a.property_pk = p_property
            AND a.day >= (lo AT TIME ZONE 'UTC')::date AND a.day <= (hi AT TIME ZONE 'UTC')::date
            AND a.ts_hi >= lo AND a.ts_lo < hi) u
    WHERE u.ts >= lo AND u.ts < hi
$$;

-- Archives a property's UTC day: its events in events that the sessioniser has seen, and its
-- archive rows if any (a late event merges into them), written again as archive rows, without
-- the events before keep_from (retention). Returns the number of archive rows written.
CREATE FUNCTION tally_archive_day(p_property integer, p_day date, keep_from timestamptz DEFAULT '-infinity')
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := p_day::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (p_day + 1)::timestamp AT TIME ZONE 'UTC';
    mark bigint;
    n integer;
BEGIN
    -- One archiver at a time per database: two would each write the day's rows.
    PERFORM pg_advisory_xact_lock(tally_ingest_lock() + 2);
    SELECT done_seq INTO mark FROM sessionize_state;
    WITH moved AS (
        DELETE FROM events e
        WHERE e.property_pk = p_property AND e.ts >= lo AND e.ts < hi AND e.seq <= mark
        RETURNING e.*
    ),
    packed AS (
        DELETE FROM events_archive a WHERE a.property_pk = p_property AND a.day = p_day RETURNING a.*
    ),
    -- The archive rows are unpacked from what `packed` returns, not read again: that makes the
    -- delete run before the insert below writes the day's new rows under the same keys.
    every_event AS (
        SELECT * FROM moved
        UNION ALL
        SELECT p.property_pk, u.*
        FROM packed p,
             unnest(
                   p.ts, p.seq, p.event_id, p.name, p.visitor, p.prev_visitor, p.session,
                   p.hostname, p.path, p.query, p.title, p.referrer, p.source, p.utm_source,
                   p.utm_medium, p.utm_campaign, p.utm_term, p.utm_content, p.campaign_id,
                   p.country, p.region, p.city, p.device, p.browser, p.browser_version, p.os,
                   p.os_version, p.screen_width, p.user_id_hash, p.interactive, p.revenue_amount,
                   p.revenue_currency, p.props, p.visit_token
             ) AS u(
        ts, seq, event_id, name, visitor, prev_visitor, session, hostname, path, query, title,
        referrer, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, campaign_id,
        country, region, city, device, browser, browser_version, os, os_version, screen_width,
        user_id_hash, interactive, revenue_amount, revenue_currency, props, visit_token
             )
    ),
    kept AS (
        SELECT x.*, (row_number() OVER (ORDER BY x.visitor, x.ts, x.seq) - 1) / tally_archive_part_size() AS part
        FROM every_event x WHERE x.ts >= keep_from
    )
    INSERT INTO events_archive (property_pk, day, part, events, ts_lo, ts_hi,
        ts, seq, event_id, name, visitor, prev_visitor, session, hostname, path, query, title,
        referrer, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, campaign_id,
        country, region, city, device, browser, browser_version, os, os_version, screen_width,
        user_id_hash, interactive, revenue_amount, revenue_currency, props, visit_token
    )
    SELECT p_property, p_day, part::integer, count(*), min(ts), max(ts),
           array_agg(ts ORDER BY visitor, ts, seq),
           array_agg(seq ORDER BY visitor, ts, seq),
           array_agg(event_id ORDER BY visitor, ts, seq),
           array_agg(name ORDER BY visitor, ts, seq),
           array_agg(visitor ORDER BY visitor, ts, seq),
           array_agg(prev_visitor ORDER BY visitor, ts, seq),
           array_agg(session ORDER BY visitor, ts, seq),
           array_agg(hostname ORDER BY visitor, ts, seq),
           array_agg(path ORDER BY visitor, ts, seq),
           array_agg(query ORDER BY visitor, ts, seq),
           array_agg(title ORDER BY visitor, ts, seq),
           array_agg(referrer ORDER BY visitor, ts, seq),
           array_agg(source ORDER BY visitor, ts, seq),
           array_agg(utm_source ORDER BY visitor, ts, seq),
           array_agg(utm_medium ORDER BY visitor, ts, seq),
           array_agg(utm_campaign ORDER BY visitor, ts, seq),
           array_agg(utm_term ORDER BY visitor, ts, seq),
           array_agg(utm_content ORDER BY visitor, ts, seq),
           array_agg(campaign_id ORDER BY visitor, ts, seq),
           array_agg(country ORDER BY visitor, ts, seq),
           array_agg(region ORDER BY visitor, ts, seq),
           array_agg(city ORDER BY visitor, ts, seq),
           array_agg(device ORDER BY visitor, ts, seq),
           array_agg(browser ORDER BY visitor, ts, seq),
           array_agg(browser_version ORDER BY visitor, ts, seq),
           array_agg(os ORDER BY visitor, ts, seq),
           array_agg(os_version ORDER BY visitor, ts, seq),
           array_agg(screen_width ORDER BY visitor, ts, seq),
           array_agg(user_id_hash ORDER BY visitor, ts, seq),
           array_agg(interactive ORDER BY visitor, ts, seq),
           array_agg(revenue_amount ORDER BY visitor, ts, seq),
           array_agg(revenue_currency ORDER BY visitor, ts, seq),
           array_agg(props ORDER BY visitor, ts, seq),
           array_agg(visit_token ORDER BY visitor, ts, seq)
    FROM kept GROUP BY part;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Archives up to max_days property-days older than keep_days UTC days (today is 0); returns how
-- many it archived (0: none left). Events that still wait for the sessioniser stay; a day that
-- has only those is counted again by the next call, which then archives them.
CREATE FUNCTION tally_archive_days(keep_days integer DEFAULT 2, max_days integer DEFAULT 20) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz := ((now() AT TIME ZONE 'UTC')::date - keep_days)::timestamp AT TIME ZONE 'UTC';
    p integer;
    after timestamptz;
    first timestamptz;
    day date;
    n integer := 0;
BEGIN
    IF keep_days < 1 THEN
        RAISE EXCEPTION 'keep_days must be at least 1 (yesterday''s events still change visits), got %', keep_days;
    END IF;
    -- Each property's oldest day, then the next, through the (property_pk, ts) index.
    FOR p IN SELECT pk FROM properties ORDER BY pk LOOP
        after := '-infinity';
        LOOP
            EXIT WHEN n >= max_days;
            SELECT min(e.ts) INTO first FROM events e WHERE e.property_pk = p AND e.ts >= after AND e.ts < cutoff;
            EXIT WHEN first IS NULL;
            day := (first AT TIME ZONE 'UTC')::date;
            PERFORM tally_archive_day(p, day);
            n := n + 1;
            after := (day + 1)::timestamp AT TIME ZONE 'UTC';
        END LOOP;
    END LOOP;
    RETURN n;
END $$;

-- A partition's bounds, from its partition bound expression (null for the default partition).
CREATE FUNCTION tally_partition_bounds(part regclass, OUT lo timestamptz, OUT hi timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT m[1]::timestamptz, m[2]::timestamptz
    FROM pg_class c, regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') AS m
    WHERE c.oid = part
$$;

-- Creates the daily partitions of events for [from_day, from_day + days) that no partition
-- covers yet (days inside an older monthly partition are left to it). Returns how many it made.
CREATE FUNCTION tally_ensure_day_partitions(from_day date, days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    created integer := 0;
    name text;
    owner text := (SELECT relowner::regrole::text FROM pg_class WHERE oid = 'events'::regclass);
BEGIN
    FOR i IN 0 .. days - 1 LOOP
        d := from_day + i;
        name := format('events_%s', to_char(d, 'YYYY_MM_DD'));
        CONTINUE WHEN to_regclass(name) IS NOT NULL;
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM pg_inherits i, tally_partition_bounds(i.inhrelid) b
            WHERE i.inhparent = 'events'::regclass
              AND b.lo < (d + 1)::timestamp AT TIME ZONE 'UTC' AND b.hi > d::timestamp AT TIME ZONE 'UTC');
        EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)', name,
                       d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
        IF owner <> current_user THEN
            EXECUTE format('ALTER TABLE %I OWNER TO %s', name, owner);
        END IF;
        created := created + 1;
    END LOOP;
    RETURN created;
END $$;

-- After the archiver: drops the partitions of archived days that are empty, and replaces each
-- partition longer than a day (monthly, from before daily partitions) by daily partitions from
-- the archive cutoff on, moving its remaining events into them. Returns how many partitions it
-- dropped or split. A partition that ingest is writing to at that moment is left for the next
-- run (lock_timeout), so ingest never waits long; so is one that belongs to another role.
CREATE FUNCTION tally_archive_partitions(keep_days integer DEFAULT 2) RETURNS integer
LANGUAGE plpgsql SET lock_timeout = '200ms' AS $$
DECLARE
    cutoff timestamptz := ((now() AT TIME ZONE 'UTC')::date - keep_days)::timestamp AT TIME ZONE 'UTC';
    p record;
    n integer := 0;
    columns text := (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                     WHERE attrelid = 'events'::regclass AND attnum > 0 AND NOT attisdropped);
BEGIN
    FOR p IN SELECT i.inhrelid::regclass AS part, b.lo, b.hi
             FROM pg_inherits i, tally_partition_bounds(i.inhrelid) b
             WHERE i.inhparent = 'events'::regclass AND b.lo IS NOT NULL
               AND (b.hi <= cutoff OR b.hi - b.lo > interval '1 day')
             ORDER BY b.lo LOOP
        BEGIN
            -- The partition first: autovacuum, busy with the rows just archived, gives way to
            -- this lock after deadlock_timeout, and only late events would wait for it. The
            -- lock on events that dropping or detaching takes next is the short one.
            PERFORM set_config('lock_timeout', '5s', true);
            EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', p.part);
            PERFORM set_config('lock_timeout', '200ms', true);
            IF p.hi <= cutoff THEN
                CONTINUE WHEN EXISTS (SELECT 1 FROM events e WHERE e.ts >= p.lo AND e.ts < p.hi);
                EXECUTE format('DROP TABLE %s', p.part);
            ELSE
                EXECUTE format('ALTER TABLE events DETACH PARTITION %s', p.part);
                PERFORM tally_ensure_day_partitions((greatest(p.lo, cutoff) AT TIME ZONE 'UTC')::date,
                                                    (p.hi AT TIME ZONE 'UTC')::date - (greatest(p.lo, cutoff) AT TIME ZONE 'UTC')::date);
                EXECUTE format('INSERT INTO events (%s) SELECT %s FROM %s', columns, columns, p.part);
                EXECUTE format('DROP TABLE %s', p.part);
            END IF;
            n := n + 1;
        EXCEPTION WHEN lock_not_available OR insufficient_privilege THEN
            NULL;   -- busy, or another role's partition (an administrator may run this)
        END;
    END LOOP;
    RETURN n;
END $$;


-- 017's seeding of live days and 017's rollup of a day, reading archived days too.
CREATE OR REPLACE FUNCTION tally_live_seed(p_property integer, p_day date) RETURNS boolean
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
    SELECT DISTINCT p_property, p_day, visitor FROM tally_events(p_property, lo, hi)
    WHERE property_pk = p_property AND ts >= lo AND ts < hi AND seq <= mark;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO live_page_visitors (property_pk, day, path, visitor)
    SELECT DISTINCT p_property, p_day, path, visitor FROM tally_events(p_property, lo, hi)
    WHERE property_pk = p_property AND ts >= lo AND ts < hi AND seq <= mark AND name = 'pageview';

    INSERT INTO live_days (property_pk, day, dim, value, visitors, pageviews, events)
    SELECT p_property, p_day, x.dim, x.value,
           CASE WHEN x.dim = 'path' THEN count(DISTINCT e.visitor) FILTER (WHERE e.name = 'pageview')
                ELSE count(DISTINCT e.visitor) END,
           count(*) FILTER (WHERE e.name = 'pageview'), count(*)
    FROM tally_events(p_property, lo, hi) e CROSS JOIN LATERAL (VALUES ('total', ''), ('path', e.path)) AS x(dim, value)
    WHERE e.property_pk = p_property AND e.ts >= lo AND e.ts < hi AND e.seq <= mark
    GROUP BY x.dim, x.value;

    UPDATE live_days l SET sessions = v.sessions, bounces = v.bounces, duration = v.duration
    FROM (SELECT count(*) AS sessions, count(*) FILTER (WHERE s.pageviews <= 1 AND s.interactive = 0) AS bounces,
                 coalesce(sum(extract(epoch FROM s.last_seen - s.started_at)), 0) AS duration
          FROM sessions s WHERE s.property_pk = p_property AND s.started_at >= lo AND s.started_at < hi) v
    WHERE l.property_pk = p_property AND l.day = p_day AND l.dim = 'total' AND l.value = '';
    RETURN true;
END $$;

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
    FROM tally_events(p_property, lo, hi) e
    CROSS JOIN LATERAL (VALUES ('total', ''), ('path', e.path), ('hostname', e.hostname),
                               ('event_type', e.name)) AS x(dim, value)
    WHERE e.property_pk = p_property AND e.ts >= lo AND e.ts < hi
    GROUP BY x.dim, x.value;

    -- Custom properties, as dimensions 'prop:<key>'.
    INSERT INTO rollup_days (property_pk, dim, day, value, visitors, pageviews, events)
    SELECT p_property, 'prop:' || kv.key, p_day, kv.value, count(DISTINCT e.visitor),
           count(*) FILTER (WHERE e.name = 'pageview'), count(*)
    FROM tally_events(p_property, lo, hi) e CROSS JOIN LATERAL jsonb_each_text(e.props) AS kv
    WHERE e.property_pk = p_property AND e.ts >= lo AND e.ts < hi AND e.props IS NOT NULL
    GROUP BY kv.key, kv.value;

    -- Goals: visitors who completed them, completions, and revenue per currency.
    INSERT INTO rollup_days (property_pk, dim, day, value, visitors, pageviews, events)
    SELECT p_property, 'goal', p_day, g.name, count(DISTINCT e.visitor),
           count(*) FILTER (WHERE e.name = 'pageview'), count(*)
    FROM goals g JOIN tally_events(p_property, lo, hi) e ON e.property_pk = g.property_pk AND tally_goal_hit(g, e.name, e.path)
    WHERE g.property_pk = p_property AND e.ts >= lo AND e.ts < hi
    GROUP BY g.name;
    INSERT INTO rollup_revenue (property_pk, day, goal, currency, amount)
    SELECT p_property, p_day, g.name, e.revenue_currency, sum(e.revenue_amount)
    FROM goals g JOIN tally_events(p_property, lo, hi) e ON e.property_pk = g.property_pk AND tally_goal_hit(g, e.name, e.path)
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

-- 006's retention purge, also for archived days: rows wholly before the cutoff go, and a day
-- across it is archived again without its expired events.
CREATE OR REPLACE FUNCTION tally_purge_retention() RETURNS TABLE (events_deleted bigint, sessions_deleted bigint)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
    n bigint;
    cutoff timestamptz;
    archived_day date;
BEGIN
    events_deleted := 0;
    sessions_deleted := 0;
    FOR p IN SELECT pk, retention_days, timezone FROM properties WHERE retention_days > 0 LOOP
        cutoff := now() - make_interval(days => p.retention_days);
        -- Days about to lose their raw data are rolled up first, whatever their state.
        PERFORM tally_rollup_day(p.pk, d.day)
        FROM (SELECT day FROM rollup_dirty
              WHERE property_pk = p.pk
                AND day < (now() AT TIME ZONE p.timezone)::date - p.retention_days) d;
        DELETE FROM rollup_dirty
        WHERE property_pk = p.pk AND day < (now() AT TIME ZONE p.timezone)::date - p.retention_days;
        DELETE FROM events WHERE property_pk = p.pk AND ts < cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        events_deleted := events_deleted + n;

        WITH gone AS (DELETE FROM events_archive WHERE property_pk = p.pk AND ts_hi < cutoff RETURNING events)
        SELECT coalesce(sum(events), 0) INTO n FROM gone;
        events_deleted := events_deleted + n;
        FOR archived_day IN SELECT DISTINCT day FROM events_archive WHERE property_pk = p.pk AND ts_lo < cutoff LOOP
            SELECT sum(events) INTO n FROM events_archive WHERE property_pk = p.pk AND day = archived_day;
            PERFORM tally_archive_day(p.pk, archived_day, cutoff);
            events_deleted := events_deleted + n - (SELECT coalesce(sum(events), 0) FROM events_archive
                                                    WHERE property_pk = p.pk AND day = archived_day);
        END LOOP;

        DELETE FROM sessions
        WHERE property_pk = p.pk AND last_seen < now() - make_interval(days => p.retention_days);
        GET DIAGNOSTICS n = ROW_COUNT;
        sessions_deleted := sessions_deleted + n;
    END LOOP;
    RETURN NEXT;
END $$;

-- 005's reaction to a new time zone, also marking the days of archived events (every local day
-- an archive row's events span) for rebuilding.
CREATE OR REPLACE FUNCTION tally_timezone_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.timezone IS DISTINCT FROM OLD.timezone THEN
        DELETE FROM rollup_state WHERE property_pk = NEW.pk;
        DELETE FROM rollup_days WHERE property_pk = NEW.pk;
        DELETE FROM rollup_revenue WHERE property_pk = NEW.pk;
        DELETE FROM rollup_dirty WHERE property_pk = NEW.pk;
        INSERT INTO rollup_dirty (property_pk, day)
        SELECT NEW.pk, (ts AT TIME ZONE NEW.timezone)::date FROM events WHERE property_pk = NEW.pk
        UNION
        SELECT NEW.pk, lo + g
        FROM (SELECT (ts_lo AT TIME ZONE NEW.timezone)::date AS lo, (ts_hi AT TIME ZONE NEW.timezone)::date AS hi
              FROM events_archive WHERE property_pk = NEW.pk) a,
             generate_series(0, a.hi - a.lo) AS g;
    END IF;
    RETURN NULL;
END $$;

-- 008's deletion of a property, counting its archived events among the events deleted (the
-- archive rows go with the property, by their foreign key).
CREATE OR REPLACE FUNCTION tally_delete_property(p_property integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    n_events bigint;
    n_archived bigint;
    n_sessions bigint;
    n_rollups bigint;
BEGIN
    SELECT coalesce(sum(events), 0) INTO n_archived FROM events_archive WHERE property_pk = p_property;
    -- First the row: its cascade (goals) marks rollup days dirty, which are deleted below.
    DELETE FROM properties WHERE pk = p_property;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    DELETE FROM events WHERE property_pk = p_property;
    GET DIAGNOSTICS n_events = ROW_COUNT;
    DELETE FROM sessions WHERE property_pk = p_property;
    GET DIAGNOSTICS n_sessions = ROW_COUNT;
    DELETE FROM rollup_days WHERE property_pk = p_property;
    GET DIAGNOSTICS n_rollups = ROW_COUNT;
    DELETE FROM rollup_revenue WHERE property_pk = p_property;
    DELETE FROM rollup_state WHERE property_pk = p_property;
    DELETE FROM rollup_dirty WHERE property_pk = p_property;
    DELETE FROM event_ids WHERE property_pk = p_property;
    RETURN jsonb_build_object('events', n_events + n_archived, 'sessions', n_sessions, 'rollup_rows', n_rollups);
END $$;
