/**
 * Scenario backlog_drain_memory: the collector's resident memory while it drains a large backlog,
 * read once a second, for two backlog sizes 4× apart. If the collector held on to what it
 * drained, or fetched ahead without bound, its peak would grow with the backlog; bounded, both
 * peaks are about the same.
 *
 * The acceptance asks for a 10-minute backlog. At the 10,000 events/s a pool emits in
 * emission_latency that is 6,000,000 events (about 2.3 GB in JetStream, 4 GB in PostgreSQL):
 * too long to fill and drain three times on this shared 2-core machine. The larger size here is
 * 2,000,000 events, scaled down 3× (10 minutes at 3,333 events/s), and the smaller 500,000.
 *
 * @module
 */
import { median } from "./bench_table.ts";
import { loadAverage1m } from "./bench_setup.ts";
import { drainBacklog, type DrainResult, resetStores } from "./collector_drain.ts";
import { withPipelineServers } from "./pipeline_servers.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";

/** The smaller backlog. */
export const SMALL_BACKLOG = 500_000;
/** The larger backlog: a 10-minute backlog at 3,333 events/s (6,000,000 at 10,000/s, ÷ 3). */
export const LARGE_BACKLOG = 2_000_000;

const MB = 1e6;

/** Peak over the drain, steady (median between 10% and 90% acknowledged) and first reading. */
function rssFigures(result: DrainResult): { peak: number; steady: number; first: number } {
  const samples = result.rss[0] ?? [];
  const { fromEpochMs, toEpochMs } = result.sustained;
  const middle = samples.filter((s) => s.epochMs >= fromEpochMs && s.epochMs <= toEpochMs);
  return {
    peak: Math.max(...samples.map((s) => s.bytes)) / MB,
    steady: middle.length > 0 ? median(middle.map((s) => s.bytes)) / MB : NaN,
    first: (samples[0]?.bytes ?? NaN) / MB,
  };
}

/** The backlog_drain_memory scenario. */
export const backlogDrainMemory: Scenario = {
  name: "backlog_drain_memory",
  workload:
    `one collector drains a pre-filled backlog of ${SMALL_BACKLOG.toLocaleString("en-US")}` +
    `, then (stores emptied) of ${LARGE_BACKLOG.toLocaleString("en-US")} events (the mix of ` +
    "collector_throughput) into PostgreSQL + Redis; its VmRSS read every second",
  columns: [
    { key: "smallRate", label: "small events/s", digits: 0 },
    { key: "smallFirst", label: "small RSS first MB", digits: 1 },
    { key: "smallSteady", label: "small RSS steady MB", digits: 1 },
    { key: "smallPeak", label: "small RSS peak MB", digits: 1 },
    { key: "largeRate", label: "large events/s", digits: 0 },
    { key: "largeDrainS", label: "large drain s", digits: 0 },
    { key: "largeSteady", label: "large RSS steady MB", digits: 1 },
    { key: "largePeak", label: "large RSS peak MB", digits: 1 },
    { key: "peakRatio", label: "peak large ÷ small", digits: 2 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    return await withPipelineServers(async (servers) => {
      context.progress(`  backlog of ${SMALL_BACKLOG}`);
      const small = await drainBacklog(context, servers, {
        events: SMALL_BACKLOG,
        instances: 1,
        seed: 11,
        sampleRss: true,
        inspectHeap: true,
      });
      await resetStores(servers);
      context.progress(`  backlog of ${LARGE_BACKLOG}`);
      const large = await drainBacklog(context, servers, {
        events: LARGE_BACKLOG,
        instances: 1,
        seed: 12,
        sampleRss: true,
        inspectHeap: true,
      });
      const s = rssFigures(small);
      const l = rssFigures(large);
      const series = (r: DrainResult) =>
        (r.rss[0] ?? []).filter((_, i) => i % 10 === 0).map((x) => (x.bytes / MB).toFixed(0))
          .join(" ");
      return {
        values: {
          smallRate: small.sustained.perS,
          smallFirst: s.first,
          smallSteady: s.steady,
          smallPeak: s.peak,
          largeRate: large.sustained.perS,
          largeDrainS: large.drainS,
          largeSteady: l.steady,
          largePeak: l.peak,
          peakRatio: l.peak / s.peak,
          loadAvg,
        },
        commands: large.commands,
        notes: [
          `RSS MB every 10 s, small: ${series(small)}`,
          `RSS MB every 10 s, large: ${series(large)}`,
          ...small.notes,
          ...large.notes,
        ],
      };
    });
  },
};
