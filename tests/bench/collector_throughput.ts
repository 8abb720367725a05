/**
 * Scenario collector_throughput: how many events per second the collector moves from JetStream
 * into PostgreSQL and Redis, with one collector process and with two sharing the durable
 * consumer. Each phase pre-fills the stream with a realistic backlog (95% share_submitted, see
 * event_mix.ts) from a fast publisher, then drains it; the rate is taken between 10% and 90% of
 * the backlog acknowledged. Stores are emptied between phases, and both phases run against the
 * same servers in one run, so their ratio is measured on the same machine state.
 *
 * @module
 */
import { loadAverage1m } from "./bench_setup.ts";
import { drainBacklog, resetStores } from "./collector_drain.ts";
import { withPipelineServers } from "./pipeline_servers.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";

/** Events per phase: about 15 s of draining at the budget. */
export const THROUGHPUT_BACKLOG = 400_000;

/** The collector_throughput scenario. */
export const collectorThroughput: Scenario = {
  name: "collector_throughput",
  workload: `${THROUGHPUT_BACKLOG.toLocaleString("en-US")} pre-filled events ` +
    "(95% share_submitted, 10,000 workers) drained into PostgreSQL (fsync on) + Redis by 1, " +
    "then 2 collector processes on one durable consumer; rate between 10% and 90% acknowledged; " +
    "nothing pinned (collectors, nats-server, redis-server and PostgreSQL share both cores)",
  columns: [
    { key: "one", label: "1 instance events/s", digits: 0 },
    { key: "oneCpu", label: "collector CPU-s/1k (1)", digits: 4 },
    { key: "two", label: "2 instances events/s", digits: 0 },
    { key: "twoCpu", label: "collectors CPU-s/1k (2)", digits: 4 },
    { key: "ratio", label: "2 ÷ 1", digits: 2 },
    { key: "pgCpu", label: "PostgreSQL CPU-s/1k", digits: 4 },
    { key: "redisCpu", label: "Redis CPU-s/1k", digits: 4 },
    { key: "natsCpu", label: "NATS CPU-s/1k", digits: 4 },
    { key: "publishPerS", label: "prefill events/s", digits: 0 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    return await withPipelineServers(async (servers) => {
      context.progress("  phase 1: one collector");
      const one = await drainBacklog(context, servers, {
        events: THROUGHPUT_BACKLOG,
        instances: 1,
        seed: 1,
      });
      await resetStores(servers);
      context.progress("  phase 2: two collectors");
      const two = await drainBacklog(context, servers, {
        events: THROUGHPUT_BACKLOG,
        instances: 2,
        seed: 2,
      });
      const describe = (label: string, r: typeof one) =>
        `${label}: sustained ${r.sustained.perS.toFixed(0)}/s, whole drain ` +
        `${r.wholePerS.toFixed(0)}/s in ${r.drainS.toFixed(1)} s; CPU-s/1k collector ` +
        `${r.collectorCpuPer1k.toFixed(4)}, postgres ${r.postgresCpuPer1k.toFixed(4)}, redis ` +
        `${r.redisCpuPer1k.toFixed(4)}, nats ${r.natsCpuPer1k.toFixed(4)}`;
      return {
        values: {
          one: one.sustained.perS,
          oneCpu: one.collectorCpuPer1k,
          two: two.sustained.perS,
          twoCpu: two.collectorCpuPer1k,
          ratio: two.sustained.perS / one.sustained.perS,
          pgCpu: one.postgresCpuPer1k,
          redisCpu: one.redisCpuPer1k,
          natsCpu: one.natsCpuPer1k,
          publishPerS: one.prefill.events / one.prefill.seconds,
          loadAvg,
        },
        commands: one.commands,
        notes: [
          describe("1 instance", one),
          describe("2 instances", two),
          ...one.notes,
          ...two.notes,
        ],
      };
    });
  },
};
