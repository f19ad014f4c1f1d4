-- Rollup rows keyed by property and day first: tally_rollup_day() deletes a day's rows through the
-- key instead of scanning every row of the property, and a report reads the rows of its days
-- (one index range per day and dimension) whatever the dimension.
ALTER TABLE rollup_days DROP CONSTRAINT rollup_days_pkey;
ALTER TABLE rollup_days ADD PRIMARY KEY (property_pk, day, dim, value);
