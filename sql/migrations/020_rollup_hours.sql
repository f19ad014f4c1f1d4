-- Hourly rollups of a property's site figures, so that a metrics series by hour over closed days
-- (the dashboard's "yesterday" and "last 7 days" charts) reads 24 rows a day instead of the day's
-- raw events, which may be archived (018). Built with the day's daily rollups: tally_rollup_day
-- now rolls up the day's rows (005/017, renamed tally_rollup_day_rows) and then its hours.
--
-- An hour is the property's local wall-clock hour, as reports bucket raw events: visitors are
-- distinct within the hour, and a visit counts in the hour it started.
CREATE TABLE rollup_hours (
    property_pk integer NOT NULL REFERENCES properties(pk) ON DELETE CASCADE,
    hour        timestamp NOT NULL,     -- start of the local hour
    visitors    bigint NOT NULL,
    pageviews   bigint NOT NULL,
    events      bigint NOT NULL,
    sessions    bigint NOT NULL,
    bounces     bigint NOT NULL,
    duration    bigint NOT NULL,
    PRIMARY KEY (property_pk, hour)
);

-- Whether a rolled-up day has its hours. Days rolled up before this migration have none until
-- they are rolled up again (the migration does the last five weeks'); a report by hour reads the
-- others raw, as before.
ALTER TABLE rollup_state ADD COLUMN hours boolean NOT NULL DEFAULT false;

-- Builds a property's local day's hourly rollups from its events (stored or archived) and visits.
CREATE FUNCTION tally_rollup_hours(p_property integer, p_day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    lo timestamptz;
    hi timestamptz;
BEGIN
    SELECT timezone INTO tz FROM properties WHERE pk = p_property;
    IF tz IS NULL THEN
        RETURN;
    END IF;
    lo := tally_day_start(p_day, tz);
    hi := tally_day_start(p_day + 1, tz);
    DELETE FROM rollup_hours WHERE property_pk = p_property AND hour >= p_day AND hour < p_day + 1;
    INSERT INTO rollup_hours (property_pk, hour, visitors, pageviews, events, sessions, bounces, duration)
    SELECT p_property, hour, coalesce(e.visitors, 0), coalesce(e.pageviews, 0), coalesce(e.events, 0),
           coalesce(v.sessions, 0), coalesce(v.bounces, 0), coalesce(v.duration, 0)
    FROM (SELECT date_trunc('hour', e.ts AT TIME ZONE tz) AS hour, count(DISTINCT e.visitor) AS visitors,
                 count(*) FILTER (WHERE e.name = 'pageview') AS pageviews, count(*) AS events
          FROM tally_events(p_property, lo, hi) e GROUP BY 1) e
    FULL JOIN
         (SELECT date_trunc('hour', s.started_at AT TIME ZONE tz) AS hour, count(*) AS sessions,
                 count(*) FILTER (WHERE s.pageviews <= 1 AND s.interactive = 0) AS bounces,
                 sum(extract(epoch FROM s.last_seen - s.started_at))::bigint AS duration
          FROM sessions s WHERE s.property_pk = p_property AND s.started_at >= lo AND s.started_at < hi
          GROUP BY 1) v USING (hour);
    UPDATE rollup_state SET hours = true WHERE property_pk = p_property AND day = p_day;
END $$;

ALTER FUNCTION tally_rollup_day(integer, date) RENAME TO tally_rollup_day_rows;

-- Rebuilds the rollups of one property's local day: its rows by dimension, then its hours.
CREATE FUNCTION tally_rollup_day(p_property integer, p_day date) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tally_rollup_day_rows(p_property, p_day);
    PERFORM tally_rollup_hours(p_property, p_day);
END $$;

-- A new time zone moves every hour: the property's hours go with its other rollups (005).
CREATE FUNCTION tally_timezone_changed_hours() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.timezone IS DISTINCT FROM OLD.timezone THEN
        DELETE FROM rollup_hours WHERE property_pk = NEW.pk;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER properties_timezone_hours AFTER UPDATE OF timezone ON properties
    FOR EACH ROW EXECUTE FUNCTION tally_timezone_changed_hours();

-- The hours of the last five weeks' rolled-up days (a report by hour covers at most 31 days).
SELECT tally_rollup_hours(property_pk, day) FROM rollup_state
WHERE day >= (now() AT TIME ZONE 'UTC')::date - 35 ORDER BY property_pk, day;
