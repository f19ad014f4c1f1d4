-- Ingest by COPY: track.fcgi claims a batch's event ids in the dedupe ledger with
-- tally_claim_events(), then COPYs the events it may store straight into events, in the same
-- transaction (lib/store_postgresql_append.c). COPY parses rows far more cheaply than a JSON batch
-- spread into records; the rules are those of tally_ingest() (002), which stays for older callers.

-- Claims the event ids of a batch: element i of `property_pks` and `ids` is the property and the id
-- (null: none) of the batch's i-th event. Returns the positions (from 1) of the events to store,
-- in order: the first of each (property, id) within the batch, unless the ledger already has it;
-- every event without an id; none of a property deleted meanwhile (a spool replayed late).
--
-- Takes the ingest lock, shared, until the transaction ends: the events COPYed next draw their
-- numbers from events_seq under it, as the sessioniser (004) requires.
CREATE FUNCTION tally_claim_events(property_pks integer[], ids text[])
RETURNS SETOF integer
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(tally_ingest_lock());
    RETURN QUERY
    WITH input AS (
        SELECT x.property_pk, x.event_id, x.n::integer AS n
        FROM unnest(property_pks, ids) WITH ORDINALITY AS x(property_pk, event_id, n)
        WHERE EXISTS (SELECT 1 FROM properties p WHERE p.pk = x.property_pk)
    ),
    uniq AS (
        SELECT DISTINCT ON (i.property_pk, coalesce(i.event_id, '#' || i.n)) i.*
        FROM input i
        ORDER BY i.property_pk, coalesce(i.event_id, '#' || i.n), i.n
    ),
    -- Ids are claimed in key order so that concurrent batches take row locks in the same order.
    fresh AS (
        INSERT INTO event_ids (property_pk, event_id)
        SELECT u.property_pk, u.event_id FROM uniq u WHERE u.event_id IS NOT NULL
        ORDER BY u.property_pk, u.event_id
        ON CONFLICT DO NOTHING
        RETURNING event_ids.property_pk, event_ids.event_id
    )
    SELECT u.n FROM uniq u
    WHERE u.event_id IS NULL
       OR (u.property_pk, u.event_id) IN (SELECT f.property_pk, f.event_id FROM fresh f)
    ORDER BY u.n;
END $$;
