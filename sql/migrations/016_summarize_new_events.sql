-- The sessioniser finds new events through the block range index on seq (events_seq_brin, 001),
-- which costs ingest next to nothing. But a block range stays unsummarized until a vacuum, and an
-- index scan reads every unsummarized range whole. Append-only partitions are vacuumed rarely
-- (after a fifth of their rows are new), so every run read every event stored since the last
-- vacuum: hundreds of milliseconds whatever the number of new events. Summarizing the new ranges
-- before a run keeps its read to its own events.

-- Summarizes the new block ranges of every partition's seq index; returns how many it summarized.
-- A partition that vacuum is working on (lock not had within lock_timeout) or that belongs to
-- another role is left for the next call, and is then read whole as before.
CREATE FUNCTION tally_summarize_new_events() RETURNS integer
LANGUAGE plpgsql SET lock_timeout = '50ms' AS $$
DECLARE
    idx regclass;
    n integer := 0;
BEGIN
    FOR idx IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'events_seq_brin'::regclass LOOP
        BEGIN
            n := n + brin_summarize_new_values(idx);
        EXCEPTION WHEN lock_not_available OR insufficient_privilege THEN
            NULL;
        END;
    END LOOP;
    RETURN n;
END $$;

-- Partitions belong to the owner of events whoever creates them (cron as the application's role,
-- or an administrator), so that the function above may summarize them.
CREATE OR REPLACE FUNCTION tally_ensure_partitions(from_month date, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_month)::date;
    created integer := 0;
    name text;
    owner text := (SELECT relowner::regrole::text FROM pg_class WHERE oid = 'events'::regclass);
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        name := format('events_%s', to_char(m, 'YYYY_MM'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                           name, m, (m + interval '1 month')::date);
            IF owner <> current_user THEN
                EXECUTE format('ALTER TABLE %I OWNER TO %s', name, owner);
            END IF;
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;
