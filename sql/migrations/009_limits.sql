-- Per-property daily event quota (UTC days); 0 means none. Beyond it ingest answers 429.
ALTER TABLE properties ADD COLUMN event_quota_daily bigint NOT NULL DEFAULT 0 CHECK (event_quota_daily >= 0);
