-- Maintenance run by cron (cron/tally-cron): salts, the dedupe window and partitions.

-- Creates today's and tomorrow's salts ahead of time and destroys every salt older than
-- yesterday, after which no visitor hash of those days can be recomputed from an address.
CREATE FUNCTION tally_rotate_salts(today date DEFAULT (now() AT TIME ZONE 'UTC')::date)
RETURNS TABLE (created integer, destroyed integer)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO salts (day, salt)
    SELECT d, tally_random_bytes32() FROM (VALUES (today), (today + 1)) AS v(d)
    ON CONFLICT (day) DO NOTHING;
    GET DIAGNOSTICS created = ROW_COUNT;
    DELETE FROM salts WHERE day < today - 1;
    GET DIAGNOSTICS destroyed = ROW_COUNT;
    RETURN NEXT;
END $$;

-- Forgets event ids older than the dedupe window (at least 7 days, as the spec requires).
CREATE FUNCTION tally_purge_event_ids(window_days integer DEFAULT 30) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF window_days < 7 THEN
        RAISE EXCEPTION 'dedupe window must be at least 7 days, got %', window_days;
    END IF;
    DELETE FROM event_ids WHERE received_at < now() - make_interval(days => window_days);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
