/**
 * Runs the Stratum pool and event pipeline benchmarks and prints Markdown: per scenario the
 * workload, the exact commands, one table row per run and the median row.
 *
 *   deno task bench                                  all scenarios, once
 *   deno task bench --only submit_throughput         one scenario (repeat --only for more)
 *   deno task bench --runs 3                         each scenario three times, plus the median
 *   deno task bench --only idle_memory --idle-miners 16667
 *                                                    the idle_memory scenarios with that many
 *                                                    miners instead of 10,000 (1,000 to 19,000)
 *   deno task bench --only notify_fanout,notify_floor --processes 2
 *                                                    the fan-out scenarios with that many
 *                                                    reuse_port pool (or responder) processes
 *                                                    on one port, one per CPU in turn (1 to 16)
 *   REDIS_MEMORY_RATE=10000 REDIS_MEMORY_DURATION_S=600 deno task bench --only redis_memory
 *                                                    Redis memory at a fixed event rate (these
 *                                                    are the defaults: 10 minutes)
 *   STORAGE_GROWTH_EVENTS=1000000 deno task bench --only storage_growth
 *                                                    bytes per event in PostgreSQL and JetStream
 *                                                    over that many events (default 300,000);
 *                                                    STORAGE_GROWTH_WAL_COMPRESSION=lz4 sets
 *                                                    PostgreSQL's wal_compression for the run
 *   deno task bench --only submit_throughput --profile
 *                                                    run the pool under --inspect, CPU-profile it
 *                                                    over each measured window (profile files go
 *                                                    to a temp dir) and print the top self time;
 *                                                    idle_memory also reports the V8 heap after GC;
 *                                                    the collector scenarios profile the first
 *                                                    collector instead. Sampling slows the
 *                                                    service: profiled runs are for diagnosis,
 *                                                    not for the figures.
 *
 * Each scenario starts what it measures (devnet and pool; nats-server, redis-server, PostgreSQL
 * and collectors) and stops it; every wait is bounded. Progress
 * goes to stderr, results to stdout. No thresholds are applied here: BENCHMARKS.md compares the
 * figures with the budgets.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { backlogDrainMemory } from "./backlog_drain_memory.ts";
import { medianRow, tableHeader, tableRow } from "./bench_table.ts";
import { collectorThroughput } from "./collector_throughput.ts";
import { emissionLatency } from "./emission_latency.ts";
import { freshMemory } from "./fresh_memory.ts";
import { idleMemory, idleMemorySteady } from "./idle_memory.ts";
import { latencyAtRate } from "./latency_at_rate.ts";
import { latencyFloor } from "./latency_floor.ts";
import { multiRegionLatency } from "./multi_region_latency.ts";
import { notifyFanout } from "./notify_fanout.ts";
import { notifyFloor } from "./notify_floor.ts";
import { readProcFile } from "./proc_stats.ts";
import { redisMemory } from "./redis_memory.ts";
import type { BenchContext, Scenario } from "./scenario.ts";
import { shareValidation } from "./share_validation.ts";
import { storageGrowth } from "./storage_growth.ts";
import { submitThroughput } from "./submit_throughput.ts";

/** Every scenario, in the order `deno task bench` runs them. */
export const SCENARIOS: readonly Scenario[] = [
  shareValidation,
  submitThroughput,
  latencyAtRate,
  latencyFloor,
  freshMemory,
  idleMemory,
  idleMemorySteady,
  notifyFanout,
  notifyFloor,
  emissionLatency,
  collectorThroughput,
  backlogDrainMemory,
  redisMemory,
  storageGrowth,
  multiRegionLatency,
];

const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));
const err = (text: string) => Deno.stderr.writeSync(encoder.encode(text + "\n"));

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string", multiple: true },
      runs: { type: "string", default: "1" },
      profile: { type: "boolean", default: false },
      "idle-miners": { type: "string" },
      processes: { type: "string" },
    },
    strict: true,
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
    err(`bench: --runs expects a whole number from 1 to 20, got "${values.runs}"`);
    return 2;
  }
  const idleMiners = values["idle-miners"] === undefined
    ? undefined
    : Number(values["idle-miners"]);
  if (
    idleMiners !== undefined &&
    (!Number.isInteger(idleMiners) || idleMiners < 1_000 || idleMiners > 19_000)
  ) {
    err(
      `bench: --idle-miners expects a whole number from 1000 to 19000, got "${
        values["idle-miners"]
      }"`,
    );
    return 2;
  }
  const processes = values.processes === undefined ? undefined : Number(values.processes);
  if (
    processes !== undefined && (!Number.isInteger(processes) || processes < 1 || processes > 16)
  ) {
    err(`bench: --processes expects a whole number from 1 to 16, got "${values.processes}"`);
    return 2;
  }
  const names = (values.only ?? []).flatMap((n) => n.split(","));
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) {
    err(`bench: unknown scenario ${unknown.join(", ")}; known: ${SCENARIOS.map((s) => s.name)}`);
    return 2;
  }
  const selected = names.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => names.includes(s.name));
  const profileDir = values.profile ? await Deno.makeTempDir({ prefix: "tbg-bench-prof-" }) : null;
  const context: BenchContext = {
    profileDir,
    progress: err,
    ...(idleMiners === undefined ? {} : { idleMiners }),
    ...(processes === undefined ? {} : { processes }),
  };
  const nproc = navigator.hardwareConcurrency;
  out(`machine: ${nproc} CPUs, ${await cpuModel()}, Deno ${Deno.version.deno}; ${await commit()}`);
  if (profileDir !== null) {
    out(
      `profiling: the pool runs with --inspect and is sampled (slower); profiles in ${profileDir}`,
    );
  }
  let failed = false;
  for (const scenario of selected) {
    const command = `deno task bench --only ${scenario.name}${runs > 1 ? ` --runs ${runs}` : ""}` +
      (idleMiners !== undefined ? ` --idle-miners ${idleMiners}` : "") +
      (processes !== undefined ? ` --processes ${processes}` : "") +
      (profileDir !== null ? " --profile" : "");
    out("");
    out(`### ${scenario.name}`);
    out("");
    out(`workload: ${scenario.workload}`);
    out(`command: \`${command}\``);
    const rows: Record<string, number>[] = [];
    const lines: string[] = [];
    const commands = new Set<string>();
    for (let run = 1; run <= runs; run++) {
      err(`${scenario.name}: run ${run} of ${runs}`);
      try {
        const result = await scenario.run(context);
        rows.push({ ...result.values });
        for (const c of result.commands) {
          commands.add(
            c.replace(/--port \d+/, "--port <pool port>")
              .replace(/--allow-net=127\.0\.0\.1:\d+/, "--allow-net=127.0.0.1:<pool port>"),
          );
        }
        lines.push(tableRow(`run ${run}`, scenario.columns, result.values));
        for (const note of result.notes) lines.push(`  ${note}`);
      } catch (e) {
        failed = true;
        lines.push(`run ${run} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      }
    }
    for (const c of commands) out(`load: \`${c}\``);
    out("");
    out(tableHeader("run", scenario.columns));
    for (const line of lines.filter((l) => l.startsWith("|"))) out(line);
    if (rows.length > 1) {
      out(tableRow("**median**", scenario.columns, medianRow(scenario.columns, rows)));
    }
    const extra = lines.filter((l) => !l.startsWith("|"));
    if (extra.length > 0) {
      out("");
      out("```");
      for (const line of extra) out(line);
      out("```");
    }
  }
  return failed ? 1 : 0;
}

/** The commit measured, and whether the working tree differs from it (read-only git). */
async function commit(): Promise<string> {
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  };
  const head = await git("rev-parse", "--short", "HEAD");
  if (head === null) return "commit unknown";
  const dirty = await git("status", "--porcelain", "--untracked-files=no");
  return `commit ${head}${dirty ? " with local changes" : ""}`;
}

async function cpuModel(): Promise<string> {
  try {
    const text = await readProcFile("/proc/cpuinfo");
    return /^model name\s*:\s*(.+)$/m.exec(text)?.[1] ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
