-- Administration (admin.fcgi): dashboard logins, login throttling, invitations, the audit log, and
-- a few columns the dashboard needs. Every secret (session, invitation) is stored only as the
-- SHA-256 of a random token; client addresses only as a keyed hash under the day's salt.

-- The account created at first run: it may always create properties (other accounts may once they
-- are owner or admin of one).
ALTER TABLE users ADD COLUMN instance_owner boolean NOT NULL DEFAULT false;

-- A goal whose conversions carry revenue: the dashboard shows its revenue column.
ALTER TABLE goals ADD COLUMN revenue boolean NOT NULL DEFAULT false;

-- Dashboard logins. The cookie holds the token; only its SHA-256 is kept. The CSRF token is
-- derived from the session token (admin_token.c), so nothing else needs storing.
CREATE TABLE admin_sessions (
    id          bigserial PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_id);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

-- Failed logins, for throttling per account and per client address. Both are keyed BLAKE2b
-- hashes under the day's salt (the salts table), so once that salt is destroyed not even the
-- account's email or the address can be recovered from a row. Rows older than the throttling
-- window are deleted at every login attempt.
CREATE TABLE login_failures (
    at           timestamptz NOT NULL DEFAULT now(),
    account_hash bytea NOT NULL CHECK (length(account_hash) = 32),
    address_hash bytea NOT NULL CHECK (length(address_hash) = 32)
);
CREATE INDEX login_failures_account ON login_failures (account_hash, at);
CREATE INDEX login_failures_address ON login_failures (address_hash, at);
CREATE INDEX login_failures_at ON login_failures (at);

-- Invitations to a property's team: a link with a token, shown once to the owner who invites.
CREATE TABLE invitations (
    id          bigserial PRIMARY KEY,
    property_pk integer NOT NULL REFERENCES properties(pk) ON DELETE CASCADE,
    email       text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    invited_by  bigint REFERENCES users(id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by bigint REFERENCES users(id) ON DELETE SET NULL,
    revoked_at  timestamptz
);
CREATE INDEX invitations_property ON invitations (property_pk);

-- What was done by whom. No secrets in details. Entries outlive their property (no foreign key),
-- so the deletion of a property stays on record.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    user_id     bigint REFERENCES users(id) ON DELETE SET NULL,
    actor_email text NOT NULL DEFAULT '',
    action      text NOT NULL,
    property_pk integer,
    property_id text,
    target      text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_property ON audit_log (property_pk, id);
CREATE INDEX audit_log_user ON audit_log (user_id, id);

-- Timestamps in API answers: RFC 3339, UTC, whole seconds, whatever the session's TimeZone.
CREATE FUNCTION tally_time_text(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- Deletes a property and everything stored for it. Metadata goes with the property row (foreign
-- keys); events, visits, rollups and the dedupe ledger have no foreign key and are deleted here.
-- Returns what was deleted, or NULL when there is no such property.
CREATE FUNCTION tally_delete_property(p_property integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    n_events bigint;
    n_sessions bigint;
    n_rollups bigint;
BEGIN
    -- First the row: its cascade (goals) marks rollup days dirty, which are deleted below.
    DELETE FROM properties WHERE pk = p_property;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    DELETE FROM events WHERE property_pk = p_property;
    GET DIAGNOSTICS n_events = ROW_COUNT;
    DELETE FROM sessions WHERE property_pk = p_property;
    GET DIAGNOSTICS n_sessions = ROW_COUNT;
    DELETE FROM rollup_days WHERE property_pk = p_property;
    GET DIAGNOSTICS n_rollups = ROW_COUNT;
    DELETE FROM rollup_revenue WHERE property_pk = p_property;
    DELETE FROM rollup_state WHERE property_pk = p_property;
    DELETE FROM rollup_dirty WHERE property_pk = p_property;
    DELETE FROM event_ids WHERE property_pk = p_property;
    RETURN jsonb_build_object('events', n_events, 'sessions', n_sessions, 'rollup_rows', n_rollups);
END $$;
