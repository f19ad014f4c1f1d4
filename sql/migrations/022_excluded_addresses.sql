-- Addresses whose events a property drops (counted as filtered, like bots and excluded paths): a
-- site owner's office or home connection, a monitoring service. Addresses or CIDR ranges, as the
-- owner enters them (admin.fcgi checks each); they are settings, not visitors' addresses, which
-- are never stored.
ALTER TABLE properties ADD COLUMN excluded_addresses text[] NOT NULL DEFAULT '{}';
