-- Goals and rollups: daily figures per property, dimension and value, so that reports over closed
-- days never scan raw events.
--
-- A day is a local day in the property's time zone. Rollups are rebuilt whole, one (property,
-- day) at a time, by tally_rollup() (cron: tally-cron rollup, every few minutes), for closed days
-- the sessioniser marked in rollup_dirty. Reports read rollups for days in rollup_state that are
-- not dirty, and raw events and visits for every other day (today, and days changed since).
-- Because the visitor hash changes every day, daily distinct visitors add up exactly across days.

-- Goals: a custom event by name, or a pageview whose path matches a pattern ('*' matches any run
-- of characters).
CREATE TABLE goals (
    id           bigserial PRIMARY KEY,
    property_pk  integer NOT NULL REFERENCES properties(pk) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    event_name   text,
    path_pattern text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((event_name IS NULL) <> (path_pattern IS NULL)),
    UNIQUE (property_pk, name)
);

-- A goal's path pattern as a LIKE pattern: '*' is the only wildcard, '%' and '_' are literal.
CREATE FUNCTION tally_goal_like(pattern text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT replace(replace(replace(replace(pattern, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%')
$$;

-- Whether an event completes a goal.
CREATE FUNCTION tally_goal_hit(g goals, name text, path text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN g.event_name IS NOT NULL THEN name = g.event_name
                ELSE name = 'pageview' AND path LIKE tally_goal_like(g.path_pattern) END
$$;

-- Dimensions of an event, and of a visit (the attributes of its first event, its entry and exit).
-- Event dimensions count events; visit dimensions count visits (a visit's pageviews are credited
-- to its source, campaign, country, ...).
CREATE FUNCTION tally_event_dims() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['path', 'hostname', 'event_type']
$$;
CREATE FUNCTION tally_visit_dims() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['entry_page', 'exit_page', 'source', 'referrer', 'utm_source', 'utm_medium',
                 'utm_campaign', 'utm_term', 'utm_content', 'campaign_id', 'campaign', 'country',
                 'region', 'city', 'device', 'browser', 'browser_version', 'os', 'os_version']
$$;

-- One row per (property, dimension, day, value). dim 'total' (value '') holds the whole site;
-- 'prop:<key>' a custom property; 'goal' a goal's name. Event dimensions fill visitors,
-- pageviews and events; visit dimensions (and 'total') also sessions, bounces and duration.
CREATE TABLE rollup_days (
    property_pk integer NOT NULL,
    dim         text NOT NULL,
    day         date NOT NULL,
    value       text NOT NULL,
    visitors    bigint NOT NULL DEFAULT 0,
    pageviews   bigint NOT NULL DEFAULT 0,
    events      bigint NOT NULL DEFAULT 0,
    sessions    bigint NOT NULL DEFAULT 0,
    bounces     bigint NOT NULL DEFAULT 0,
    duration    bigint NOT NULL DEFAULT 0,      -- seconds, summed over sessions
    PRIMARY KEY (property_pk, dim, day, value)
);

-- Revenue of goals per day and currency.
CREATE TABLE rollup_revenue (
    property_pk integer NOT NULL,
    day         date NOT NULL,
    goal        text NOT NULL,
    currency    text NOT NULL,
    amount      numeric(20, 4) NOT NULL,
    PRIMARY KEY (property_pk, day, goal, currency)
);

-- The days whose rollups are complete (as of rolled_at).
CREATE TABLE rollup_state (
    property_pk integer NOT NULL,
    day         date NOT NULL,
    rolled_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (property_pk, day)
);

-- Start of a local day, as a point in time.
CREATE FUNCTION tally_day_start(day date, tz text) RETURNS timestamptz LANGUAGE sql STABLE STRICT AS $$
    SELECT day::timestamp AT TIME ZONE tz
$$;

-- Rebuilds the rollups of one property's local day from its events and visits.
CREATE FUNCTION tally_rollup_day(p_property integer, p_day date) RETURNS void
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

-- Rebuilds up to max_days closed days marked dirty (a day is closed once it has ended in the
-- property's time zone). Run the sessioniser first (tally-cron rollup does), so that the days
-- see every stored event. Returns the number of days rebuilt; call again until it returns 0.
CREATE FUNCTION tally_rollup(max_days integer DEFAULT 50) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d record;
    n integer := 0;
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
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

-- A goal that changes changes the figures of every day: they are rebuilt, and reports read raw
-- events for them meanwhile.
CREATE FUNCTION tally_goals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_dirty (property_pk, day)
    SELECT property_pk, day FROM rollup_state
    WHERE property_pk IN (SELECT property_pk FROM changed)
    ON CONFLICT (property_pk, day) DO UPDATE SET marked_at = now();
    RETURN NULL;
END $$;
CREATE TRIGGER goals_inserted AFTER INSERT ON goals REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION tally_goals_changed();
CREATE TRIGGER goals_updated AFTER UPDATE ON goals REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION tally_goals_changed();
CREATE TRIGGER goals_deleted AFTER DELETE ON goals REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION tally_goals_changed();

-- A new time zone moves every day boundary: the property's rollups are dropped, and every day
-- with events is rebuilt in the new zone.
CREATE FUNCTION tally_timezone_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.timezone IS DISTINCT FROM OLD.timezone THEN
        DELETE FROM rollup_state WHERE property_pk = NEW.pk;
        DELETE FROM rollup_days WHERE property_pk = NEW.pk;
        DELETE FROM rollup_revenue WHERE property_pk = NEW.pk;
        DELETE FROM rollup_dirty WHERE property_pk = NEW.pk;
        INSERT INTO rollup_dirty (property_pk, day)
        SELECT DISTINCT NEW.pk, (ts AT TIME ZONE NEW.timezone)::date FROM events WHERE property_pk = NEW.pk;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER properties_timezone AFTER UPDATE OF timezone ON properties
    FOR EACH ROW EXECUTE FUNCTION tally_timezone_changed();
