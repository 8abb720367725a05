-- 006: summary_deltas, what each batch adds to miners and worker_hourly, folded in later.
--
-- Before this migration every batch upserted its rows of miners and worker_hourly itself: about
-- one row of each per event at production scale (a batch of 1,000 events touches ~950 workers),
-- half of PostgreSQL's CPU per event. Now a batch transaction inserts one summary_deltas row
-- holding its per-worker and per-worker-hour sums as JSON (computed, as before, from only the
-- events it inserted), and tbg_fold_summaries() moves every delta committed so far into the two
-- tables: deleted and added in one statement, so each delta counts exactly once, and the deltas
-- of many batches are summed per key first, so a worker seen in many batches is upserted once.
-- The collector folds at most every batch.summary_fold_ms while batches queue, and before it
-- acknowledges the last batch of a queue, so once a backlog is drained the tables are complete.
--
-- The JSON is stored uncompressed (STORAGE EXTERNAL): a delta lives a few seconds, and
-- compressing ~100 KB per batch costs more CPU than the bytes are worth.

CREATE TABLE summary_deltas (
  id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  miners text NOT NULL,
  hours  text NOT NULL
);

ALTER TABLE summary_deltas
  ALTER COLUMN miners SET STORAGE EXTERNAL,
  ALTER COLUMN hours SET STORAGE EXTERNAL;

COMMENT ON TABLE summary_deltas IS
  'Per-batch additions to miners (miners JSON) and worker_hourly (hours JSON) not yet folded in; see tbg_fold_summaries().';

-- Microseconds since the Unix epoch as a timestamptz, exactly (the deltas carry times as
-- integers: parsing 100,000 timestamps per fold was most of its cost; the aggregated ones are
-- converted).
CREATE FUNCTION tbg_micros_to_timestamptz(micros bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN TIMESTAMPTZ '1970-01-01 00:00:00+00' + micros * INTERVAL '1 microsecond';

-- Folds every committed delta into miners and worker_hourly and returns how many deltas it
-- folded, or -1 when wait is false and another fold is running (that fold, or the next, takes
-- these deltas). Folds run one at a time (an advisory lock held to commit), and take row locks in
-- key order.
--
-- miners merges like the per-batch upsert did, across batches: first_seen the least, last_seen,
-- last_share_at and best_diff the greatest, counts summed, user_agent the agent of the latest
-- connect (by its event time, ut), region the region of the latest event. Times in the JSON are
-- microseconds since the Unix epoch.
CREATE FUNCTION tbg_fold_summaries(wait boolean DEFAULT true) RETURNS int
LANGUAGE plpgsql
SET search_path FROM CURRENT
-- Sorting a fold's entries by key must not spill to disk: about 100 B per entry, ~100,000
-- entries for a few seconds at 30,000 events/s.
SET work_mem = '64MB'
AS $$
DECLARE
  folded int;
BEGIN
  IF wait THEN
    PERFORM pg_advisory_xact_lock(7633940281934070106);
  ELSIF NOT pg_try_advisory_xact_lock(7633940281934070106) THEN
    RETURN -1;
  END IF;

  WITH d AS (
    DELETE FROM summary_deltas RETURNING miners, hours
  ),
  m AS (
    INSERT INTO miners AS m ("user", worker, first_seen, last_seen, last_share_at,
      shares_accepted, shares_rejected, best_diff, user_agent, region)
    SELECT x.u, x.w, tbg_micros_to_timestamptz(min(x.f)), tbg_micros_to_timestamptz(max(x.l)),
      tbg_micros_to_timestamptz(max(x.s)), sum(x.a), sum(x.r), max(x.b),
      (array_agg(x.g ORDER BY x.ut DESC) FILTER (WHERE x.g IS NOT NULL))[1],
      (array_agg(x.n ORDER BY x.l DESC))[1]
    FROM d, jsonb_to_recordset(d.miners::jsonb) AS x(u text, w text, f int8, l int8, s int8,
      a int8, r int8, b float8, g text, ut int8, n text)
    GROUP BY x.u, x.w
    ORDER BY x.u, x.w
    ON CONFLICT ("user", worker) DO UPDATE SET
      first_seen = LEAST(m.first_seen, EXCLUDED.first_seen),
      last_seen = GREATEST(m.last_seen, EXCLUDED.last_seen),
      last_share_at = GREATEST(m.last_share_at, EXCLUDED.last_share_at),
      shares_accepted = COALESCE(m.shares_accepted, 0) + EXCLUDED.shares_accepted,
      shares_rejected = COALESCE(m.shares_rejected, 0) + EXCLUDED.shares_rejected,
      best_diff = GREATEST(m.best_diff, EXCLUDED.best_diff),
      user_agent = COALESCE(EXCLUDED.user_agent, m.user_agent),
      region = CASE WHEN m.last_seen IS NULL OR EXCLUDED.last_seen >= m.last_seen
        THEN EXCLUDED.region ELSE m.region END
    RETURNING 1
  ),
  h AS (
    INSERT INTO worker_hourly AS w ("user", worker, hour, shares_accepted, shares_rejected,
      diff_accepted, best_diff)
    SELECT x.u, x.w, tbg_micros_to_timestamptz(x.h), sum(x.a), sum(x.r), sum(x.d), max(x.b)
    FROM d, jsonb_to_recordset(d.hours::jsonb) AS x(u text, w text, h int8, a int8, r int8,
      d float8, b float8)
    GROUP BY x.u, x.w, x.h
    ORDER BY x.u, x.w, x.h
    ON CONFLICT ("user", worker, hour) DO UPDATE SET
      shares_accepted = COALESCE(w.shares_accepted, 0) + EXCLUDED.shares_accepted,
      shares_rejected = COALESCE(w.shares_rejected, 0) + EXCLUDED.shares_rejected,
      diff_accepted = COALESCE(w.diff_accepted, 0) + EXCLUDED.diff_accepted,
      best_diff = GREATEST(w.best_diff, EXCLUDED.best_diff)
    RETURNING 1
  )
  SELECT count(*) INTO folded FROM d;
  RETURN folded;
END
$$;
