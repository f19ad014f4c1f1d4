-- Retention: a property's raw events and visits older than its retention_days (0 keeps them
-- forever) are deleted by cron (tally-cron retention, daily). Rollups hold only counts per day
-- and dimension and are kept, so long-range reports still cover the purged days.

CREATE FUNCTION tally_purge_retention() RETURNS TABLE (events_deleted bigint, sessions_deleted bigint)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
    n bigint;
BEGIN
    events_deleted := 0;
    sessions_deleted := 0;
    FOR p IN SELECT pk, retention_days, timezone FROM properties WHERE retention_days > 0 LOOP
        -- Days about to lose their raw data are rolled up first, whatever their state.
        PERFORM tally_rollup_day(p.pk, d.day)
        FROM (SELECT day FROM rollup_dirty
              WHERE property_pk = p.pk
                AND day < (now() AT TIME ZONE p.timezone)::date - p.retention_days) d;
        DELETE FROM rollup_dirty
        WHERE property_pk = p.pk AND day < (now() AT TIME ZONE p.timezone)::date - p.retention_days;
        DELETE FROM events
        WHERE property_pk = p.pk AND ts < now() - make_interval(days => p.retention_days);
        GET DIAGNOSTICS n = ROW_COUNT;
        events_deleted := events_deleted + n;
        DELETE FROM sessions
        WHERE property_pk = p.pk AND last_seen < now() - make_interval(days => p.retention_days);
        GET DIAGNOSTICS n = ROW_COUNT;
        sessions_deleted := sessions_deleted + n;
    END LOOP;
    RETURN NEXT;
END $$;
