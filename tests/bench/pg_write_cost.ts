/**
 * PostgreSQL's CPU per 1,000 events of `PostgresStore.write()` alone: no NATS, Redis or collector
 * process, batches of 1,000 from the collector benchmarks' event mix (10,000 workers) built before
 * the clock starts, two writes in flight as the collector has, against the benchmark server
 * (`fsync` on). CPU is utime + stime of the postmaster and all its children; the summary fold
 * runs every `--fold-every` batches (as the collector's timer would) and once at the end.
 *
 * `deno run --allow-all tests/bench/pg_write_cost.ts [--batches 150] [--fold-every 30] [--setup-sql S]`
 *
 * `--setup-sql` runs S after the migrations, for trying a schema change (an index dropped, a
 * storage parameter) before writing a migration for it.
 *
 * A ratio of one server's CPU to the events written, so it moves far less with the machine's load
 * than a rate does; run it twice and compare code states under the same conditions.
 *
 * @module
 */
import postgres from "postgres";
import { parseArgs } from "node:util";
import type { MiningEvent } from "@tbg/shared/events";
import { migrate } from "../../tools/migrate.ts";
import { PostgresStore } from "../../collector/postgres_store.ts";
import { startPostgres } from "../support/servers/postgres_server.ts";
import { BENCH_MIX } from "./collector_drain.ts";
import { mixedEvents } from "./event_mix.ts";
import { BENCH_POSTGRES_SETTINGS } from "./pipeline_servers.ts";
import { childPids, cpuSeconds } from "./proc_stats.ts";

const BATCH = 1_000;
const WARM_UP_BATCHES = 10;
const IN_FLIGHT = 2;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    batches: { type: "string", default: "150" },
    "fold-every": { type: "string" },
    "setup-sql": { type: "string" },
  },
});
const batches = Number(values.batches);
const foldEvery = Number(values["fold-every"] ?? 30);
if (!Number.isInteger(batches) || batches <= WARM_UP_BATCHES || !(foldEvery >= 1)) {
  throw new Error(
    `Cannot run: --batches must be an integer above ${WARM_UP_BATCHES}, --fold-every at least 1`,
  );
}

const pg = await startPostgres({ fsync: true, settings: BENCH_POSTGRES_SETTINGS });
async function serverCpu(): Promise<number> {
  let total = await cpuSeconds(pg.pid);
  for (const child of await childPids(pg.pid)) total += await cpuSeconds(child).catch(() => 0);
  return total;
}
try {
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  await migrate(sql, { info: () => {}, warn: () => {} });
  await sql`SELECT tbg_ensure_partitions(3)`;
  if (values["setup-sql"] !== undefined) await sql.unsafe(values["setup-sql"]);
  await sql.end();
  const store = new PostgresStore(pg.url, { maxConnections: IN_FLIGHT });
  const events = mixedEvents({ ...BENCH_MIX, seed: 7 });
  const work: { events: MiningEvent[]; seqs: Map<string, number> }[] = [];
  for (let b = 0; b < batches; b++) {
    const batch: MiningEvent[] = [];
    const seqs = new Map<string, number>();
    for (let i = 0; i < BATCH; i++) {
      const event = events.next().value!;
      batch.push(event);
      seqs.set(event.event_id, b * BATCH + i + 1);
    }
    work.push({ events: batch, seqs });
  }
  for (const { events, seqs } of work.slice(0, WARM_UP_BATCHES)) await store.write(events, seqs);
  await store.foldSummaries();
  const measured = work.slice(WARM_UP_BATCHES);
  const cpu0 = await serverCpu();
  const t0 = performance.now();
  let folds = 0;
  let foldCpu = 0;
  for (let i = 0; i < measured.length; i += IN_FLIGHT) {
    await Promise.all(measured.slice(i, i + IN_FLIGHT).map((b) => store.write(b.events, b.seqs)));
    const written = i + IN_FLIGHT;
    if (written % foldEvery < IN_FLIGHT || written >= measured.length) {
      const before = await serverCpu();
      await store.foldSummaries();
      foldCpu += await serverCpu() - before;
      folds++;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = await serverCpu() - cpu0;
  const n = measured.length * BATCH;
  const [load] = Deno.loadavg();
  await Deno.stdout.write(new TextEncoder().encode(
    `${n} events in ${seconds.toFixed(1)} s; PostgreSQL CPU-s per 1,000 events: ` +
      `${(cpu / n * 1000).toFixed(4)} in all, ${((cpu - foldCpu) / n * 1000).toFixed(4)} ` +
      `writing, ${(foldCpu / n * 1000).toFixed(4)} in ${folds} folds ` +
      `(one every ${foldEvery} batches); load average ${load?.toFixed(2)}\n`,
  ));
  await store.close();
} finally {
  await pg.stop();
}
