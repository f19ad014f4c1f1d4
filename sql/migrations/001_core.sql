-- Tally core schema: metadata (accounts, properties, keys, salts) and the events store.
-- Applied once by sql/tally-migrate inside a transaction.

-- 32 bytes from PostgreSQL's strong random source (gen_random_uuid), without needing pgcrypto.
CREATE FUNCTION tally_random_bytes32() RETURNS bytea LANGUAGE sql VOLATILE AS $$
    SELECT sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8'))
$$;

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,                 -- crypto_pwhash_str (argon2id)
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE properties (
    pk               serial PRIMARY KEY,         -- compact key used by the events store
    id               text NOT NULL UNIQUE CHECK (id ~ '^prop_[A-Za-z0-9_-]{1,60}$'),
    name             text NOT NULL,
    domains          text[] NOT NULL DEFAULT '{}',
    allowed_origins  text[] NOT NULL DEFAULT '{*}',
    timezone         text NOT NULL DEFAULT 'UTC',
    retention_days   integer NOT NULL DEFAULT 0 CHECK (retention_days >= 0),   -- 0 keeps forever
    session_timeout  integer NOT NULL DEFAULT 1800 CHECK (session_timeout BETWEEN 60 AND 86400),
    drop_gpc         boolean NOT NULL DEFAULT false,  -- drop events from browsers sending Sec-GPC: 1
    excluded_paths   text[] NOT NULL DEFAULT '{}',    -- exact paths, or prefixes ending in '*'
    visitor_key      bytea NOT NULL DEFAULT tally_random_bytes32(),
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    property_pk integer NOT NULL REFERENCES properties(pk) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    PRIMARY KEY (user_id, property_pk)
);

-- Keys are stored only as SHA-256 of the secret; `prefix` lets a person recognise a key.
CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    property_pk  integer NOT NULL REFERENCES properties(pk) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('write', 'read')),
    key_hash     bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    prefix       text NOT NULL,
    name         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- One random salt per UTC day. Rows older than yesterday are deleted (cron and track.fcgi),
-- so a visitor hash can never be recomputed from an address afterwards.
CREATE TABLE salts (
    day        date PRIMARY KEY,
    salt       bytea NOT NULL CHECK (length(salt) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Idempotency ledger: an event id is stored once per property, however often it is sent.
-- Kept apart from the time-partitioned events table because a unique index there would have to
-- include the partition key. Rows older than the dedupe window are purged by cron.
CREATE TABLE event_ids (
    property_pk integer NOT NULL,
    event_id    text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (property_pk, event_id)
);
CREATE INDEX event_ids_received_at ON event_ids USING brin (received_at);

-- Arrival order of events: the sessioniser (004) picks up from the last number it has seen.
CREATE SEQUENCE events_seq;

-- Raw events, append-only, partitioned by month. Only derived, coarse fields: no address,
-- no user agent. Visits are not resolved here but by the sessioniser, off the request path.
CREATE TABLE events (
    property_pk      integer NOT NULL,
    ts               timestamptz NOT NULL,
    seq              bigint NOT NULL DEFAULT nextval('events_seq'),
    event_id         text,
    name             text NOT NULL,              -- 'pageview' or a custom event name
    visitor          bigint NOT NULL,            -- keyed BLAKE2b-64 of the daily salt
    prev_visitor     bigint,                     -- the same person under yesterday's salt, if any
    session          bigint,                     -- explicit session (identity.session_id), hashed
    hostname         text NOT NULL DEFAULT '',
    path             text NOT NULL DEFAULT '',
    query            text NOT NULL DEFAULT '',
    title            text NOT NULL DEFAULT '',
    referrer         text NOT NULL DEFAULT '',
    source           text NOT NULL DEFAULT '',
    utm_source       text NOT NULL DEFAULT '',
    utm_medium       text NOT NULL DEFAULT '',
    utm_campaign     text NOT NULL DEFAULT '',
    utm_term         text NOT NULL DEFAULT '',
    utm_content      text NOT NULL DEFAULT '',
    campaign_id      text NOT NULL DEFAULT '',
    country          text NOT NULL DEFAULT '',
    region           text NOT NULL DEFAULT '',
    city             text NOT NULL DEFAULT '',
    device           text NOT NULL DEFAULT '',
    browser          text NOT NULL DEFAULT '',
    browser_version  text NOT NULL DEFAULT '',
    os               text NOT NULL DEFAULT '',
    os_version       text NOT NULL DEFAULT '',
    screen_width     integer,
    user_id_hash     text,
    interactive      boolean NOT NULL DEFAULT true,
    revenue_amount   numeric(18, 4),
    revenue_currency text,
    props            jsonb
) PARTITION BY RANGE (ts);
CREATE INDEX events_property_ts ON events (property_pk, ts);
-- seq grows with arrival, so a block range index finds the newest events for next to nothing.
CREATE INDEX events_seq_brin ON events USING brin (seq);

-- Anything outside the monthly partitions lands here rather than being refused.
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- Creates the monthly partitions covering [from_month, from_month + months).
CREATE FUNCTION tally_ensure_partitions(from_month date, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_month)::date;
    created integer := 0;
    name text;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        name := format('events_%s', to_char(m, 'YYYY_MM'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                           name, m, (m + interval '1 month')::date);
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;

-- Sessions: one row per visit, built from events by the sessioniser (004), so bounce rate,
-- duration, entry/exit pages and acquisition never need a scan of raw events. The attributes
-- of a visit are those of its first event.
CREATE TABLE sessions (
    property_pk     integer NOT NULL,
    session         bigint NOT NULL,
    visitor         bigint NOT NULL,
    started_at      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    entry_path      text NOT NULL DEFAULT '',
    exit_path       text NOT NULL DEFAULT '',
    pageviews       integer NOT NULL DEFAULT 0,
    events          integer NOT NULL DEFAULT 0,
    interactive     integer NOT NULL DEFAULT 0,     -- interactive events other than pageviews
    hostname        text NOT NULL DEFAULT '',
    referrer        text NOT NULL DEFAULT '',
    source          text NOT NULL DEFAULT '',
    utm_source      text NOT NULL DEFAULT '',
    utm_medium      text NOT NULL DEFAULT '',
    utm_campaign    text NOT NULL DEFAULT '',
    utm_term        text NOT NULL DEFAULT '',
    utm_content     text NOT NULL DEFAULT '',
    campaign_id     text NOT NULL DEFAULT '',
    country         text NOT NULL DEFAULT '',
    region          text NOT NULL DEFAULT '',
    city            text NOT NULL DEFAULT '',
    device          text NOT NULL DEFAULT '',
    browser         text NOT NULL DEFAULT '',
    browser_version text NOT NULL DEFAULT '',
    os              text NOT NULL DEFAULT '',
    os_version      text NOT NULL DEFAULT '',
    PRIMARY KEY (property_pk, session)
) WITH (fillfactor = 80);
-- A visit is updated as its events arrive. Keeping last_seen out of the visitor index (and room
-- on each page) lets those updates be HOT; started_at changes only for an event that arrives late.
-- The sessioniser finds a visitor's open visit with one probe of this index.
CREATE INDEX sessions_visitor ON sessions (property_pk, visitor, started_at);
CREATE INDEX sessions_started ON sessions (property_pk, started_at);
