/**
 * Scenario storage_growth: the disk each event costs once the pipeline has stored it, and what
 * that means at the seed's 10,000 shares/s. A backlog of realistic events (event_mix.ts, 95%
 * share_submitted) is published to MINING_EVENTS through JetStream and drained by the real
 * collector into PostgreSQL; then it reads
 *
 * - PostgreSQL: over every partition of `mining_events`, the table (heap + TOAST + free-space and
 *   visibility maps, `pg_table_size`) and each index (summed over the partitions' indexes per
 *   parent index), after a `VACUUM ANALYZE` as autovacuum would run; the WAL written during the
 *   drain (`pg_current_wal_lsn()` before and after); and `worker_hourly` bytes per row (its growth
 *   follows workers × hours, not events);
 * - JetStream: the stream's `state.bytes / state.messages` (what `max_bytes` counts) and the
 *   file store's size on disk (sum of the files under the store directory) per message.
 *
 * STORAGE_GROWTH_WAL_COMPRESSION=lz4 (or pglz, zstd) measures the WAL with that `wal_compression`.
 *
 * The extrapolations: a day at 10,000 events/s is 864 million events; the hub stream's 10 GiB
 * `max_bytes` holds `max_bytes / (bytes per message × 10,000)` seconds of events.
 *
 * @module
 */
import { connect } from "nats";
import { jetstreamManager } from "nats/jetstream";
import postgres from "postgres";
import { MINING_EVENTS_STREAM, MINING_EVENTS_STREAM_NAME } from "@tbg/shared/nats";
import { loadAverage1m } from "./bench_setup.ts";
import { drainBacklog } from "./collector_drain.ts";
import { withPipelineServers } from "./pipeline_servers.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";

/** Events stored per run (STORAGE_GROWTH_EVENTS overrides, 10,000 to 5,000,000). */
export const STORAGE_EVENTS = 300_000;
/** The seed's share rate. */
export const SEED_EVENTS_PER_S = 10_000;
/** Workers at the seed's rate with one share per worker every 10 s. */
export const SEED_WORKERS = 100_000;
const EVENTS_PER_DAY = SEED_EVENTS_PER_S * 86_400;
const GB = 1e9;

function eventCount(): number {
  const raw = Deno.env.get("STORAGE_GROWTH_EVENTS");
  if (raw === undefined) return STORAGE_EVENTS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 10_000 || n > 5_000_000) {
    throw new RangeError(
      `STORAGE_GROWTH_EVENTS expects a whole number from 10000 to 5000000, got "${raw}"`,
    );
  }
  return n;
}

/** Values of PostgreSQL's `wal_compression` (15) that STORAGE_GROWTH_WAL_COMPRESSION accepts. */
const WAL_COMPRESSION = ["off", "pglz", "lz4", "zstd"] as const;

/** `wal_compression` to run with (STORAGE_GROWTH_WAL_COMPRESSION; the server default, off). */
function walCompression(): (typeof WAL_COMPRESSION)[number] {
  const raw = Deno.env.get("STORAGE_GROWTH_WAL_COMPRESSION") ?? "off";
  const found = WAL_COMPRESSION.find((v) => v === raw);
  if (found === undefined) {
    throw new RangeError(
      `STORAGE_GROWTH_WAL_COMPRESSION expects one of ${WAL_COMPRESSION.join(", ")}, got "${raw}"`,
    );
  }
  return found;
}

/** Bytes of the regular files under `dir`, recursively (bounded depth; the store is shallow). */
async function directoryBytes(dir: string, depth = 0): Promise<number> {
  if (depth > 8) throw new Error(`Cannot size ${dir}: deeper than 8 levels`);
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) total += await directoryBytes(path, depth + 1);
    else if (entry.isFile) total += (await Deno.stat(path)).size;
  }
  return total;
}

/** What PostgreSQL holds for the events, in bytes. */
interface PostgresSizes {
  readonly rows: number;
  readonly table: number;
  readonly indexes: number;
  /** Per parent index of mining_events, summed over its partitions. */
  readonly byIndex: ReadonlyMap<string, number>;
  readonly hourlyRows: number;
  readonly hourlyBytes: number;
}

async function postgresSizes(sql: postgres.Sql): Promise<PostgresSizes> {
  await sql`VACUUM ANALYZE mining_events`;
  await sql`VACUUM ANALYZE worker_hourly`;
  const [totals] = await sql<{ rows: string; tbl: string; idx: string }[]>`
    SELECT (SELECT count(*) FROM mining_events)::text AS rows,
           sum(pg_table_size(relid))::text AS tbl,
           sum(pg_indexes_size(relid))::text AS idx
    FROM pg_partition_tree('mining_events') WHERE isleaf`;
  const perIndex = await sql<{ name: string; bytes: string }[]>`
    SELECT p.inhparent::regclass::text AS name, sum(pg_relation_size(p.inhrelid))::text AS bytes
    FROM pg_inherits AS p
    JOIN pg_index AS i ON i.indexrelid = p.inhrelid
    WHERE i.indrelid IN (SELECT relid FROM pg_partition_tree('mining_events') WHERE isleaf)
    GROUP BY 1 ORDER BY 1`;
  const [hourly] = await sql<{ rows: string; bytes: string }[]>`
    SELECT count(*)::text AS rows, pg_total_relation_size('worker_hourly')::text AS bytes
    FROM worker_hourly`;
  return {
    rows: Number(totals?.rows),
    table: Number(totals?.tbl),
    indexes: Number(totals?.idx),
    byIndex: new Map(perIndex.map((r) => [r.name, Number(r.bytes)])),
    hourlyRows: Number(hourly?.rows),
    hourlyBytes: Number(hourly?.bytes),
  };
}

/** The WAL position and the server's WAL counters (pg_stat_wal, all backends). */
interface WalReading {
  readonly lsn: string;
  readonly records: number;
  readonly fullPageImages: number;
}

async function walReading(sql: postgres.Sql): Promise<WalReading> {
  const [row] = await sql<{ lsn: string; records: string; fpi: string }[]>`
    SELECT pg_current_wal_lsn()::text AS lsn, wal_records::text AS records, wal_fpi::text AS fpi
    FROM pg_stat_wal`;
  return {
    lsn: String(row?.lsn),
    records: Number(row?.records),
    fullPageImages: Number(row?.fpi),
  };
}

/** The storage_growth scenario. */
export const storageGrowth: Scenario = {
  name: "storage_growth",
  workload: `${STORAGE_EVENTS.toLocaleString("en-US")} events (95% share_submitted, 10,000 ` +
    "workers) published to MINING_EVENTS (file store) and drained by one collector into " +
    "PostgreSQL (native daily partitions); bytes per event on disk, extrapolated to " +
    `${SEED_EVENTS_PER_S.toLocaleString("en-US")} events/s`,
  columns: [
    { key: "pgTable", label: "PG table B/event", digits: 0 },
    { key: "pgIndexes", label: "PG indexes B/event", digits: 0 },
    { key: "pgTotal", label: "PG total B/event", digits: 0 },
    { key: "pgWal", label: "PG WAL B/event", digits: 0 },
    { key: "jsState", label: "JetStream B/msg (state)", digits: 0 },
    { key: "jsDisk", label: "JetStream B/msg (files)", digits: 0 },
    { key: "pgGbDay", label: "PG GB/day at 10k/s", digits: 0 },
    { key: "jsCapMin", label: "10 GiB stream holds (min at 10k/s)", digits: 1 },
    { key: "hourlyRow", label: "worker_hourly B/row", digits: 0 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    const events = eventCount();
    const compression = walCompression();
    return await withPipelineServers(async (servers) => {
      const sql = postgres(servers.postgres.url, { max: 1, onnotice: () => {} });
      try {
        // Set before the collector connects; a reload reaches every backend.
        await sql.unsafe(`ALTER SYSTEM SET wal_compression = '${compression}'`);
        await sql`SELECT pg_reload_conf()`;
        const [applied] = await sql<
          { v: string }[]
        >`SELECT current_setting('wal_compression') AS v`;
        if (applied?.v !== compression) {
          throw new Error(`Cannot set wal_compression: it is ${applied?.v}, not ${compression}`);
        }
        const wal0 = await walReading(sql);
        const drain = await drainBacklog(context, servers, { events, instances: 1, seed: 1 });
        const [wal] = await sql<{ bytes: string }[]>`
          SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), ${wal0.lsn}::pg_lsn)::text AS bytes`;
        const wal1 = await walReading(sql);
        const pg = await postgresSizes(sql);
        if (pg.rows !== events) {
          throw new Error(`Cannot size storage: ${pg.rows} rows stored, ${events} published`);
        }
        const nc = await connect({ servers: servers.nats.url });
        let state;
        try {
          state = (await (await jetstreamManager(nc)).streams.info(MINING_EVENTS_STREAM_NAME))
            .state;
        } finally {
          await nc.close();
        }
        if (state.messages !== events) {
          throw new Error(`Cannot size storage: ${state.messages} messages kept, ${events} sent`);
        }
        const storeBytes = await directoryBytes(servers.nats.storeDir);
        const per = (bytes: number) => bytes / events;
        const jsState = state.bytes / state.messages;
        const indexNotes = [...pg.byIndex].map(([name, bytes]) =>
          `${name} ${per(bytes).toFixed(0)} B/event`
        );
        const hourlyRow = pg.hourlyBytes / Math.max(1, pg.hourlyRows);
        return {
          values: {
            pgTable: per(pg.table),
            pgIndexes: per(pg.indexes),
            pgTotal: per(pg.table + pg.indexes),
            pgWal: per(Number(wal?.bytes)),
            jsState,
            jsDisk: per(storeBytes),
            pgGbDay: (per(pg.table + pg.indexes) * EVENTS_PER_DAY) / GB,
            jsCapMin: Number(MINING_EVENTS_STREAM.max_bytes) / (jsState * SEED_EVENTS_PER_S) / 60,
            hourlyRow,
            loadAvg,
          },
          commands: drain.commands,
          notes: [
            `published ${events} events, ${per(drain.prefill.bytes).toFixed(0)} B of JSON each ` +
            `on average; collector drained ${drain.sustained.perS.toFixed(0)}/s`,
            `mining_events indexes: ${indexNotes.join(", ")}`,
            `WAL (wal_compression ${compression}, summary upserts included): ` +
            `${((per(Number(wal?.bytes)) * EVENTS_PER_DAY) / GB).toFixed(0)} GB/day at 10k/s; ` +
            `${per(wal1.records - wal0.records).toFixed(2)} records and ` +
            `${per(wal1.fullPageImages - wal0.fullPageImages).toFixed(3)} full-page images ` +
            "per event",
            `worker_hourly: ${pg.hourlyRows} rows, ${hourlyRow.toFixed(0)} B/row; at ` +
            `${SEED_WORKERS.toLocaleString("en-US")} workers that is ` +
            `${((hourlyRow * SEED_WORKERS * 24) / GB).toFixed(2)} GB/day`,
            `JetStream: ${state.bytes} B in state, ${storeBytes} B of files for ` +
            `${state.messages} messages; at 10k/s ` +
            `${((jsState * EVENTS_PER_DAY) / GB).toFixed(0)} GB/day against a 24 h max_age`,
          ],
        };
      } finally {
        await sql.end({ timeout: 5 });
      }
    });
  },
};
