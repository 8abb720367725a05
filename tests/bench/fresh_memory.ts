/**
 * Scenario fresh_memory: the resident memory of a fresh stratum service, started as production
 * starts it (tools/launch.ts, the launcher's derived flags) with the benchmark's devnet config
 * (events off, no TLS, no Redis, ZMQ on, metrics on), read 5 s after "pool ready" with no miner
 * connected. VmRSS is split into RssAnon (the process's own memory: V8 heap, compiled code,
 * Rust allocations) and RssFile (pages of the deno binary and mapped files it touched). RssFile
 * pages are shared with every other process that maps the same file, so PSS (each shared page
 * divided by the processes mapping it) and USS (pages only this process maps) from
 * /proc/<pid>/smaps_rollup are what one more process really costs a host.
 * `deno run -A tests/bench/module_cost.ts` attributes the start-up cost to modules and packages.
 */
import { DIFFICULTY_1_BITS, loadAverage1m, sleep, withDevnetPool } from "./bench_setup.ts";
import { readProcFile } from "./proc_stats.ts";
import type { BenchContext, Column, RunResult, Scenario } from "./scenario.ts";

/** Settling time after "pool ready" (first template refresh timers, lazy allocations). */
const SETTLE_MS = 5_000;

const COLUMNS: readonly Column[] = [
  { key: "rssMb", label: "VmRSS MB", digits: 1 },
  { key: "anonMb", label: "RssAnon MB", digits: 1 },
  { key: "fileMb", label: "RssFile MB", digits: 1 },
  { key: "pssMb", label: "PSS MB", digits: 1 },
  { key: "ussMb", label: "USS MB", digits: 1 },
  { key: "loadAvg", label: "load avg 1m", digits: 2 },
];

/** The `Key:   N kB` lines of /proc/<pid>/status, in MB (10^6 bytes). */
export function statusMb(status: string, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+)\\s+kB$`, "m").exec(status);
  if (match === null) throw new SyntaxError(`Cannot parse /proc status: no ${key} line`);
  return Number(match[1]) * 1024 / 1e6;
}

/**
 * PSS and USS in MB (10^6 bytes) from /proc/<pid>/smaps_rollup: PSS counts each resident page
 * divided by the number of processes mapping it, USS (Private_Clean + Private_Dirty) only the
 * pages no other process maps.
 */
export function rollupMb(rollup: string): { pssMb: number; ussMb: number } {
  const kb = (key: string) => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(rollup);
    if (match === null) throw new SyntaxError(`Cannot parse smaps_rollup: no ${key} line`);
    return Number(match[1]);
  };
  return {
    pssMb: kb("Pss") * 1024 / 1e6,
    ussMb: (kb("Private_Clean") + kb("Private_Dirty")) * 1024 / 1e6,
  };
}

/**
 * Resident kB per mapping name from /proc/<pid>/smaps (file path, `[heap]`, or `anonymous`),
 * largest first: where RssFile comes from (the deno binary, native addons) and what is anonymous.
 */
export function rssByMapping(smaps: string): [string, number][] {
  const totals = new Map<string, number>();
  let name = "anonymous";
  for (const line of smaps.split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+(?:\s+(.*))?$/.exec(line);
    if (header !== null) {
      name = header[1]?.trim() || "anonymous";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss !== null) totals.set(name, (totals.get(name) ?? 0) + Number(rss[1]));
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** The fresh_memory scenario. */
export const freshMemory: Scenario = {
  name: "fresh_memory",
  workload: "VmRSS of a fresh stratum service (through tools/launch.ts, events off, ZMQ and " +
    "metrics on, empty template) 5 s after pool ready, no miners",
  columns: COLUMNS,
  async run(_context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    return await withDevnetPool(
      { bits: DIFFICULTY_1_BITS, mempoolTarget: 0 },
      {},
      async (_d, pool) => {
        await sleep(SETTLE_MS);
        const status = await readProcFile(`/proc/${pool.servicePid}/status`);
        const rollup = rollupMb(await readProcFile(`/proc/${pool.servicePid}/smaps_rollup`));
        const mappings = rssByMapping(await readProcFile(`/proc/${pool.servicePid}/smaps`));
        const top = mappings.slice(0, 6).map(([n, kb]) =>
          `${n.split("/").at(-1)} ${(kb / 1024).toFixed(1)} MB`
        );
        return {
          values: {
            rssMb: statusMb(status, "VmRSS"),
            anonMb: statusMb(status, "RssAnon"),
            fileMb: statusMb(status, "RssFile"),
            ...rollup,
            loadAvg,
          },
          commands: [],
          notes: [`largest mappings by RSS: ${top.join(", ")}`],
        };
      },
    );
  },
};
