-- Tally's events in ClickHouse, for events_store = clickhouse (lib/store_clickhouse.c). Applied to
-- every shard node by tally-clickhouse-setup, which replaces {database} and {cluster}; idempotent.
-- PostgreSQL keeps the metadata and the dedupe ledger (event_ids); visits are built from these
-- events as reports read them (lib/report_sql_clickhouse.h).

CREATE DATABASE IF NOT EXISTS {database};

-- One shard's events. The columns are PostgreSQL's events (sql/migrations/001_core.sql, 011), with
-- ts split into the second (ts: partitions and the sort key) and the millisecond (ts_ms), the
-- revenue amount in ten-thousandths, and the custom properties as arrays of keys, values (as
-- PostgreSQL's ->> writes them) and JSON types (0 string, 1 number, 2 boolean). seq orders events
-- of the same millisecond by arrival. Only derived, coarse fields: no address, no user agent.
-- A ReplacingMergeTree keyed by property, day and event id folds together the copies a retried
-- insert may leave (store_clickhouse.c) and those of a repeated migration (tally-events-to-clickhouse).
CREATE TABLE IF NOT EXISTS {database}.events_local (
    property_pk       UInt32,
    ts                DateTime,
    ts_ms             Int64,
    seq               UInt64,
    event_id          String,
    name              String,
    visitor           Int64,
    prev_visitor      Nullable(Int64),
    session           Nullable(Int64),
    hostname          String,
    path              String,
    query             String,
    title             String,
    referrer          String,
    source            String,
    utm_source        String,
    utm_medium        String,
    utm_campaign      String,
    utm_term          String,
    utm_content       String,
    campaign_id       String,
    country           String,
    region            String,
    city              String,
    device            String,
    browser           String,
    browser_version   String,
    os                String,
    os_version        String,
    screen_width      Nullable(Int32),
    user_id_hash      Nullable(String),
    interactive       UInt8,
    revenue_amount_e4 Nullable(Int64),
    revenue_currency  Nullable(String),
    visit_token       Nullable(String),
    props             Nested(key String, value String, kind UInt8)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (property_pk, toDate(ts), event_id);

-- Every shard's events: what Tally reads and writes. Rows go to a shard by visitor hash.
CREATE TABLE IF NOT EXISTS {database}.events AS {database}.events_local
ENGINE = Distributed({cluster}, {database}, events_local, cityHash64(visitor));
