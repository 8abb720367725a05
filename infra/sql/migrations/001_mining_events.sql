-- 001: mining_events, the append-only store of every event envelope, partitioned by time.
--
-- Storage mode is chosen once, here, and every later migration and function follows it:
--   * TimescaleDB when the extension is installable and preloaded: mining_events becomes a
--     hypertable with 1-day chunks, compressed after 2 days, raw events dropped after 90 days.
--   * Native declarative range partitioning otherwise: one partition per UTC day named
--     mining_events_pYYYYMMDD, plus mining_events_default so no insert ever fails for lack of a
--     partition. tbg_ensure_partitions() creates days ahead (the collector calls it at start and
--     daily); tbg_drop_partitions_older_than() is the retention job.
-- The setting tbg.storage ('auto' default, 'native', 'timescaledb') overrides the choice, e.g.
-- `ALTER DATABASE tbg SET tbg.storage = 'native'` before the first migration.
--
-- Writes are idempotent: the primary key is (event_id, ts) (a hypertable's unique keys must
-- contain its time column), ts comes from the envelope so a redelivery carries the same value,
-- and the collector inserts with ON CONFLICT DO NOTHING RETURNING event_id.

DO $migration$
DECLARE
  requested text := coalesce(nullif(current_setting('tbg.storage', true), ''), 'auto');
  available boolean := EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb');
  preloaded boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
  use_timescaledb boolean;
BEGIN
  IF requested NOT IN ('auto', 'native', 'timescaledb') THEN
    RAISE EXCEPTION 'Cannot choose storage: tbg.storage is %, expected auto, native or timescaledb',
      quote_literal(requested) USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- CREATE EXTENSION timescaledb fails unless the library is in shared_preload_libraries, and
  -- reading that setting needs superuser or pg_read_all_settings (as does creating the extension).
  IF available AND NOT preloaded THEN
    BEGIN
      preloaded := 'timescaledb' = ANY (
        SELECT btrim(lib, ' "')
        FROM unnest(string_to_array(current_setting('shared_preload_libraries'), ',')) AS lib
      );
    EXCEPTION WHEN insufficient_privilege THEN
      preloaded := false;
    END;
  END IF;

  use_timescaledb := requested <> 'native' AND available AND preloaded;
  IF requested = 'timescaledb' AND NOT use_timescaledb THEN
    RAISE EXCEPTION 'Cannot use TimescaleDB: extension available=%, in shared_preload_libraries=%',
      available, preloaded USING ERRCODE = 'feature_not_supported';
  END IF;
  IF requested = 'auto' AND available AND NOT preloaded THEN
    RAISE WARNING 'TimescaleDB is installed but not in shared_preload_libraries; using native partitioning';
  END IF;

  IF use_timescaledb THEN
    CREATE EXTENSION IF NOT EXISTS timescaledb;
  END IF;

  EXECUTE format($ddl$
    CREATE TABLE mining_events (
      event_id    uuid        NOT NULL,
      event_type  text        NOT NULL,
      region      text        NOT NULL,
      source      text        NOT NULL,
      ts          timestamptz NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      payload     jsonb       NOT NULL,
      PRIMARY KEY (event_id, ts)
    ) %s
  $ddl$, CASE WHEN use_timescaledb THEN '' ELSE 'PARTITION BY RANGE (ts)' END);

  IF use_timescaledb THEN
    PERFORM create_hypertable('mining_events', 'ts', chunk_time_interval => INTERVAL '1 day');
    -- Unique-key columns must be segmentby or orderby columns; event_type gives a few large
    -- segments per chunk and matches the dashboards' filters.
    ALTER TABLE mining_events SET (
      timescaledb.compress,
      timescaledb.compress_segmentby = 'event_type',
      timescaledb.compress_orderby = 'ts DESC, event_id'
    );
    PERFORM add_compression_policy('mining_events', compress_after => INTERVAL '2 days');
    PERFORM add_retention_policy('mining_events', drop_after => INTERVAL '90 days');
  ELSE
    CREATE TABLE mining_events_default PARTITION OF mining_events DEFAULT;
  END IF;
END
$migration$;

COMMENT ON TABLE mining_events IS
  'Every event envelope once (idempotent on event_id, ts); payload is the envelope''s data.';
COMMENT ON COLUMN mining_events.ts IS 'Envelope timestamp (emitter clock).';
COMMENT ON COLUMN mining_events.received_at IS 'When the collector stored the event.';

CREATE INDEX mining_events_type_ts_idx ON mining_events (event_type, ts DESC);

-- Which storage mining_events uses: 'native' (declarative partitions) or 'timescaledb'.
CREATE FUNCTION tbg_storage_mode() RETURNS text
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $$
  SELECT CASE WHEN c.relkind = 'p' THEN 'native' ELSE 'timescaledb' END
  FROM pg_class AS c
  WHERE c.oid = 'mining_events'::regclass
$$;

-- Creates the daily partitions from days_back days ago to days_ahead days ahead (UTC days) that
-- do not exist yet, and returns how many it created. Rows already in the DEFAULT partition for
-- such a day are moved into the new partition. A no-op returning 0 under TimescaleDB, which makes
-- chunks on insert. Concurrent callers serialise on an advisory lock.
CREATE FUNCTION tbg_ensure_partitions(days_ahead int, days_back int DEFAULT 1) RETURNS int
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
  day date;
  partition_name text;
  lower_bound timestamptz;
  upper_bound timestamptz;
  created int := 0;
  default_locked boolean := false;
BEGIN
  IF days_ahead IS NULL OR days_back IS NULL OR days_ahead < 0 OR days_back < 0 THEN
    RAISE EXCEPTION 'Cannot ensure partitions: days_ahead (%) and days_back (%) must be >= 0',
      days_ahead, days_back USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF tbg_storage_mode() <> 'native' THEN
    RETURN 0;
  END IF;
  PERFORM pg_advisory_xact_lock(7633940281934070101);

  FOR offset_days IN -days_back .. days_ahead LOOP
    day := today + offset_days;
    partition_name := 'mining_events_p' || to_char(day, 'YYYYMMDD');
    CONTINUE WHEN EXISTS (
      SELECT 1
      FROM pg_inherits AS i
      JOIN pg_class AS c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'mining_events'::regclass AND c.relname = partition_name
    );
    IF to_regclass(quote_ident(partition_name)) IS NOT NULL THEN
      RAISE EXCEPTION 'Cannot create partition %: a relation of that name exists outside mining_events',
        partition_name USING ERRCODE = 'duplicate_table';
    END IF;
    lower_bound := day::timestamp AT TIME ZONE 'UTC';
    upper_bound := (day + 1)::timestamp AT TIME ZONE 'UTC';

    -- Built apart and attached, so inserts into the other partitions are not blocked (ATTACH
    -- takes SHARE UPDATE EXCLUSIVE on the parent, CREATE ... PARTITION OF takes ACCESS
    -- EXCLUSIVE). The default partition is locked so no row for this day lands there between
    -- the move and the attach, which would make the attach fail.
    IF NOT default_locked THEN
      LOCK TABLE mining_events_default IN ACCESS EXCLUSIVE MODE;
      default_locked := true;
    END IF;
    EXECUTE format(
      'CREATE TABLE %I (LIKE mining_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
      partition_name);
    EXECUTE format(
      'WITH moved AS (DELETE FROM mining_events_default WHERE ts >= $1 AND ts < $2 RETURNING *) '
      'INSERT INTO %I SELECT * FROM moved', partition_name)
      USING lower_bound, upper_bound;
    EXECUTE format('ALTER TABLE mining_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
      partition_name, lower_bound, upper_bound);
    created := created + 1;
  END LOOP;
  RETURN created;
END
$$;

-- Retention: drops whole days of raw events that ended more than `days` days ago and deletes
-- such rows from the DEFAULT partition; returns the number of partitions (or, under
-- TimescaleDB, chunks) dropped. TimescaleDB also has its own 90-day retention policy.
CREATE FUNCTION tbg_drop_partitions_older_than(days int) RETURNS int
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  cutoff timestamptz;
  dropped int := 0;
  part record;
BEGIN
  IF days IS NULL OR days < 1 THEN
    RAISE EXCEPTION 'Cannot drop partitions: days must be >= 1, got %', days
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  cutoff := now() - make_interval(days => days);
  IF tbg_storage_mode() <> 'native' THEN
    EXECUTE 'SELECT count(*) FROM drop_chunks(''mining_events'', older_than => $1)'
      INTO dropped USING cutoff;
    RETURN dropped;
  END IF;
  PERFORM pg_advisory_xact_lock(7633940281934070101);

  FOR part IN
    SELECT c.relname AS name, to_date(substr(c.relname, 16), 'YYYYMMDD') AS day
    FROM pg_inherits AS i
    JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'mining_events'::regclass AND c.relname ~ '^mining_events_p[0-9]{8}$'
    ORDER BY c.relname
  LOOP
    IF ((part.day + 1)::timestamp AT TIME ZONE 'UTC') <= cutoff THEN
      EXECUTE format('DROP TABLE %I', part.name);
      dropped := dropped + 1;
    END IF;
  END LOOP;
  DELETE FROM mining_events_default WHERE ts < cutoff;
  RETURN dropped;
END
$$;

SELECT tbg_ensure_partitions(7);
