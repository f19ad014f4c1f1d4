-- A cheaper claim of a batch's event ids for track.fcgi (lib/store_postgresql_append.c), which now
-- finds the batch's duplicates itself and sends each (property, id) once: the ledger's unique index
-- is left to tell which are new, and the statement has no sorts or joins over the batch but the
-- one that orders the claims. tally_claim_events() (014) stays for older callers.
--
-- Element i of `property_pks` and `ids` is a property and an id to claim for it (null: only the
-- property, whose events without an id are to be stored). Returns every property given that still
-- exists (a spool replayed late may name one deleted meanwhile), with a null event_id, and every
-- (property, id) claimed now, that is not in the ledger yet.
--
-- Takes the ingest lock, shared, until the transaction ends: the events COPYed next draw their
-- numbers from events_seq under it, as the sessioniser (004) requires.
CREATE FUNCTION tally_claim_event_keys(property_pks integer[], ids text[])
RETURNS TABLE (property_pk integer, event_id text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock_shared(tally_ingest_lock());
    RETURN QUERY
    WITH live AS (
        SELECT p.pk FROM properties p WHERE p.pk = ANY (property_pks)
    ),
    -- Ids are claimed in key order so that concurrent batches take row locks in the same order.
    fresh AS (
        INSERT INTO event_ids AS e (property_pk, event_id)
        SELECT x.property_pk, x.event_id
        FROM unnest(property_pks, ids) AS x(property_pk, event_id)
        WHERE x.event_id IS NOT NULL AND x.property_pk IN (SELECT l.pk FROM live l)
        ORDER BY x.property_pk, x.event_id
        ON CONFLICT DO NOTHING
        RETURNING e.property_pk, e.event_id
    )
    SELECT l.pk, NULL::text FROM live l
    UNION ALL
    SELECT f.property_pk, f.event_id FROM fresh f;
END $$;
