-- 008: the folds update miners and worker_hourly in place (HOT updates).
--
-- Every fold (migration 007) updates the row of each worker seen since the last fold, and the
-- worker-hour rows of the current hour. An update that changes no indexed column and finds room
-- on the row's page is a heap-only tuple (HOT) update: no index entry is written. Two things
-- prevented that:
--   * miners_last_seen_idx indexes last_seen, which every fold changes, so every miners update
--     wrote a new entry in it and in miners_pkey. Nothing in this repository reads miners by
--     last_seen (a "recently active" listing filters worker_hourly by hour, which is indexed, or
--     scans miners: one row per worker). Dropped.
--   * The pages were packed full (fillfactor 100), so the first update of a row rarely found room
--     beside it. Both tables now leave 30% of each page free for updated row versions.
-- Together: a fold's CPU down about a third (tests/bench/pg_write_cost.ts with --setup-sql, the
-- "summary folds as arrays" section of BENCHMARKS.md).
--
-- The fillfactor applies to pages written from now on; existing pages fill up as they are
-- updated and vacuumed.

DROP INDEX miners_last_seen_idx;

ALTER TABLE miners SET (fillfactor = 70);
ALTER TABLE worker_hourly SET (fillfactor = 70);
