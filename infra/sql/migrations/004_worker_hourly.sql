-- 004: worker_hourly, per user/worker/hour share totals.
--
-- The collector writes this table with additive upserts from events newly inserted into
-- mining_events in the same transaction (so redeliveries never double count); it is the source
-- for dashboards on both storage modes and outlives raw-event retention.
-- Under TimescaleDB there is also worker_hourly_cagg, a continuous aggregate computed from the raw
-- events by TimescaleDB itself: a cross-check of the collector's counts that is refreshed every
-- 30 minutes for the last 2 days (late events from a relay that was cut off included) and kept
-- after the raw chunks are dropped.

CREATE TABLE worker_hourly (
  "user"          text             NOT NULL,
  worker          text             NOT NULL,
  hour            timestamptz      NOT NULL,
  shares_accepted bigint           NOT NULL DEFAULT 0,
  shares_rejected bigint           NOT NULL DEFAULT 0,
  diff_accepted   double precision NOT NULL DEFAULT 0,
  best_diff       double precision NOT NULL DEFAULT 0,
  PRIMARY KEY ("user", worker, hour),
  CHECK (hour = date_trunc('hour', hour, 'UTC'))
);

CREATE INDEX worker_hourly_hour_idx ON worker_hourly (hour DESC);

COMMENT ON TABLE worker_hourly IS
  'Per user/worker/UTC hour: shares accepted/rejected, sum of pool_diff of accepted shares, best accepted share_diff.';

DO $migration$
BEGIN
  IF tbg_storage_mode() = 'timescaledb' THEN
    -- WITH NO DATA: a continuous aggregate that materialises at creation cannot be created inside
    -- a transaction block, and each migration runs in one.
    CREATE MATERIALIZED VIEW worker_hourly_cagg WITH (timescaledb.continuous) AS
    SELECT
      payload->>'user' AS "user",
      payload->>'worker' AS worker,
      time_bucket(INTERVAL '1 hour', ts) AS hour,
      sum(CASE WHEN (payload->>'accepted')::boolean THEN 1 ELSE 0 END) AS shares_accepted,
      sum(CASE WHEN (payload->>'accepted')::boolean THEN 0 ELSE 1 END) AS shares_rejected,
      sum(CASE WHEN (payload->>'accepted')::boolean
        THEN (payload->>'pool_diff')::double precision ELSE 0 END) AS diff_accepted,
      max(CASE WHEN (payload->>'accepted')::boolean
        THEN (payload->>'share_diff')::double precision END) AS best_diff
    FROM mining_events
    WHERE event_type = 'share_submitted'
    GROUP BY 1, 2, 3
    WITH NO DATA;

    PERFORM add_continuous_aggregate_policy('worker_hourly_cagg',
      start_offset => INTERVAL '2 days',
      end_offset => INTERVAL '1 hour',
      schedule_interval => INTERVAL '30 minutes');
  END IF;
END
$migration$;
