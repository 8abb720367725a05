-- 007: summary_deltas as typed arrays, one entry per worker-hour serving both summary tables.
--
-- Migration 006's deltas held two JSON texts per batch (one entry per worker for miners, one per
-- worker-hour for worker_hourly), and each fold parsed them with jsonb_to_recordset: most of the
-- fold's CPU (BENCHMARKS.md, "summary folds as arrays"). Now a delta row holds one array per field,
-- parsed once by the INSERT (array_in) and read back by the fold with unnest(), which copies
-- nothing; and one entry per (user, worker, hour) of the batch carries both what the batch adds to
-- that worker-hour and what it adds to the worker's miners row, so a batch stores ~1 entry per
-- worker instead of ~2. An entry index i means, for the batch's events of worker (u[i], w[i]):
--   h   hour (µs since the epoch, UTC hour start) of shares a/r/d/hb; a worker with no share in
--       the batch has one entry with a = r = 0, which the worker_hourly fold skips;
--   a, r, d, hb  accepted and rejected shares in that hour, sum of the accepted shares' pool_diff,
--       best accepted share_diff (0 when none);
--   f   earliest event time of the worker in the batch (µs);
--   ln  latest event time of the worker in the batch as 16 zero-padded digits of µs followed by
--       the region of that event: max(ln) under the "C" collation is the latest event and its
--       region in one plain aggregate (006 sorted every key's entries for it);
--   s   latest share time of the worker (µs), NULL when no share;
--   mb  best accepted share_diff or share_best_diff report of the worker (0 when none);
--   g   16 digits of µs of the worker's latest connect followed by its user agent, NULL when none.
-- The miner fields repeat on every hour entry of a worker (a batch spanning an hour boundary has
-- two): minima and maxima do not mind, and the miners counts are the sums of the hour counts.
--
-- Deltas left by 006 are folded by its function first; then the table and the function change.
-- The arrays are stored uncompressed (STORAGE EXTERNAL), as the JSON was.

SELECT tbg_fold_summaries(true);

DROP FUNCTION tbg_fold_summaries(boolean);
DROP TABLE summary_deltas;

CREATE TABLE summary_deltas (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  u  text[]   NOT NULL,
  w  text[]   NOT NULL,
  h  int8[]   NOT NULL,
  a  int8[]   NOT NULL,
  r  int8[]   NOT NULL,
  d  float8[] NOT NULL,
  hb float8[] NOT NULL,
  f  int8[]   NOT NULL,
  ln text[]   NOT NULL,
  s  int8[]   NOT NULL,
  mb float8[] NOT NULL,
  g  text[]   NOT NULL
);

ALTER TABLE summary_deltas
  ALTER COLUMN u SET STORAGE EXTERNAL,
  ALTER COLUMN w SET STORAGE EXTERNAL,
  ALTER COLUMN h SET STORAGE EXTERNAL,
  ALTER COLUMN a SET STORAGE EXTERNAL,
  ALTER COLUMN r SET STORAGE EXTERNAL,
  ALTER COLUMN d SET STORAGE EXTERNAL,
  ALTER COLUMN hb SET STORAGE EXTERNAL,
  ALTER COLUMN f SET STORAGE EXTERNAL,
  ALTER COLUMN ln SET STORAGE EXTERNAL,
  ALTER COLUMN s SET STORAGE EXTERNAL,
  ALTER COLUMN mb SET STORAGE EXTERNAL,
  ALTER COLUMN g SET STORAGE EXTERNAL;

COMMENT ON TABLE summary_deltas IS
  'Per-batch additions to miners and worker_hourly not yet folded in, one array element per (user, worker, hour) of the batch; see migration 007 and tbg_fold_summaries().';

-- Same contract as 006's: folds every committed delta into miners and worker_hourly and returns
-- how many deltas it folded, or -1 when wait is false and another fold is running. Folds run one
-- at a time (an advisory lock held to commit) and nothing else writes miners or worker_hourly, so
-- unlike 006 the rows are not sorted by key first (no other transaction takes their locks in
-- another order; the sorts were ~7% of a fold). miners merges as
-- before: first_seen the least, last_seen, last_share_at and best_diff the greatest, counts
-- summed, user_agent the agent of the latest connect of the fold, region the region of the
-- latest event. Times are converted with tbg_micros_to_timestamptz()'s expression written out:
-- the function, IMMUTABLE around a STABLE operator, is never inlined, and its call cost about
-- three times the conversion itself.
CREATE FUNCTION tbg_fold_summaries(wait boolean DEFAULT true) RETURNS int
LANGUAGE plpgsql
SET search_path FROM CURRENT
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
    DELETE FROM summary_deltas RETURNING u, w, h, a, r, d, hb, f, ln, s, mb, g
  ),
  e AS MATERIALIZED (
    SELECT x.*
    FROM d, unnest(d.u, d.w, d.h, d.a, d.r, d.d, d.hb, d.f, d.ln, d.s, d.mb, d.g)
      AS x(u, w, h, a, r, d, hb, f, ln, s, mb, g)
  ),
  mk AS (
    SELECT e.u, e.w, min(e.f) AS f, max(e.ln COLLATE "C") AS ln, max(e.s) AS s, sum(e.a) AS a,
      sum(e.r) AS r, max(e.mb) AS mb, max(e.g COLLATE "C") AS g
    FROM e
    GROUP BY e.u, e.w
  ),
  m AS (
    INSERT INTO miners AS m ("user", worker, first_seen, last_seen, last_share_at,
      shares_accepted, shares_rejected, best_diff, user_agent, region)
    SELECT mk.u, mk.w, TIMESTAMPTZ '1970-01-01 00:00:00+00' + mk.f * INTERVAL '1 microsecond',
      TIMESTAMPTZ '1970-01-01 00:00:00+00' + left(mk.ln, 16)::int8 * INTERVAL '1 microsecond',
      TIMESTAMPTZ '1970-01-01 00:00:00+00' + mk.s * INTERVAL '1 microsecond',
      mk.a, mk.r, mk.mb, substr(mk.g, 17), substr(mk.ln, 17)
    FROM mk
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
  hk AS (
    INSERT INTO worker_hourly AS w ("user", worker, hour, shares_accepted, shares_rejected,
      diff_accepted, best_diff)
    SELECT e.u, e.w, TIMESTAMPTZ '1970-01-01 00:00:00+00' + e.h * INTERVAL '1 microsecond',
      sum(e.a), sum(e.r), sum(e.d), max(e.hb)
    FROM e
    WHERE e.a > 0 OR e.r > 0
    GROUP BY e.u, e.w, e.h
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
