-- 009: the (event_type, ts) index keeps only the rare event types; time windows use BRIN on ts.
--
-- 95% of the events are share_submitted, and mining_events_type_ts_idx (001) wrote an entry for
-- each: a third of what PostgreSQL spends writing events went to the two indexes beside the
-- primary key (BENCHMARKS.md, "collector_throughput: summary deltas as arrays"). The reads it
-- served are answered another way:
--   * the rare types by time (the latest blocks found, connects, hashrate updates of a window):
--     mining_events_rare_type_ts_idx, the same key over the other 5% of the rows;
--   * shares by time (the runbooks' "shares of the last 15 minutes"): the day's partition, and
--     in it mining_events_ts_brin. Rows arrive in ts order (the emitter's clock, one region's
--     relay delay apart), so each range of 32 pages (256 KB, about 800 events) covers a short
--     span of ts and a window reads the ranges it overlaps; the index holds one entry per range
--     (a few pages per gigabyte) and an insert that does not widen its range's span writes
--     nothing to it;
--   * one user's shares by time: mining_events_share_user_ts_idx (002), unchanged.
--
-- On a populated table the new indexes are built inside this migration's transaction and the
-- table takes no writes meanwhile; on a large production table, build them beforehand per
-- partition with CREATE INDEX CONCURRENTLY and attach them (the same names make this a no-op).

DROP INDEX mining_events_type_ts_idx;

CREATE INDEX IF NOT EXISTS mining_events_rare_type_ts_idx
  ON mining_events (event_type, ts DESC)
  WHERE event_type <> 'share_submitted';

CREATE INDEX IF NOT EXISTS mining_events_ts_brin ON mining_events USING brin (ts)
  WITH (pages_per_range = 32);
