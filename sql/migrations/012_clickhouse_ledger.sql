-- The clickhouse events store (lib/store_clickhouse.c) keeps its events in ClickHouse, but the
-- dedupe ledger here: the ids of a batch are claimed in event_ids within a transaction that
-- commits only after ClickHouse has the batch's new events, so the counts of a 202 (stored,
-- duplicates) are as exact as with events stored here, and a failed insert claims nothing.

-- Claims the event ids of a batch (a JSON array of ids, null where an event has none) for a
-- property; returns the positions (from 1) of the events to store: the first of each id within
-- the batch, unless the id was already stored, and none for a property deleted meanwhile (a spool
-- replayed late). The same rules as tally_ingest() (002).
CREATE FUNCTION tally_claim_event_ids(p_property integer, ids jsonb)
RETURNS TABLE (n integer)
LANGUAGE sql AS $$
    WITH input AS (
        SELECT x.event_id, x.n::integer AS n
        FROM jsonb_array_elements_text(ids) WITH ORDINALITY AS x(event_id, n)
    ),
    uniq AS (
        SELECT DISTINCT ON (coalesce(event_id, '#' || n)) *
        FROM input WHERE EXISTS (SELECT 1 FROM properties WHERE pk = p_property)
        ORDER BY coalesce(event_id, '#' || n), n
    ),
    -- Ids are claimed in key order so that concurrent batches take row locks in the same order.
    fresh AS (
        INSERT INTO event_ids (property_pk, event_id)
        SELECT p_property, event_id FROM uniq WHERE event_id IS NOT NULL ORDER BY event_id
        ON CONFLICT DO NOTHING
        RETURNING event_id
    )
    SELECT u.n FROM uniq u
    WHERE u.event_id IS NULL OR u.event_id IN (SELECT event_id FROM fresh)
    ORDER BY u.n
$$;
