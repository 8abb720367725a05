/**
 * CPU and memory of a group of processes from /proc: CPU seconds, RSS, and PSS from
 * /proc/<pid>/smaps_rollup. Several deno processes share the pages of the deno binary, so their
 * summed RSS counts those pages once per process; PSS divides each shared page among the
 * processes mapping it, so PSS summed over a group is what the group really occupies.
 */
import { cpuSeconds, readProcFile, rssBytes } from "../../tests/bench/proc_stats.ts";

/**
 * Proportional set size in bytes from /proc/<pid>/smaps_rollup (the `Pss:` line, in kB).
 *
 * @throws {SyntaxError} when there is no Pss line
 */
export function parsePssBytes(smapsRollup: string): number {
  const match = /^Pss:\s+(\d+)\s+kB$/m.exec(smapsRollup);
  if (match === null) throw new SyntaxError("Cannot parse smaps_rollup: no Pss line");
  return Number(match[1]) * 1024;
}

/** Current PSS of a process in bytes. */
export async function pssBytes(pid: number): Promise<number> {
  return parsePssBytes(await readProcFile(`/proc/${pid}/smaps_rollup`));
}

/** One reading of a process group (sums over the processes that could be read). */
export interface GroupSample {
  /** performance.now() of the reading. */
  readonly atMs: number;
  readonly cpuS: number;
  readonly rssBytes: number;
  readonly pssBytes: number;
  /** Processes read (a process that exited is left out). */
  readonly processes: number;
}

/** Reads CPU, RSS and PSS of every pid and sums them. */
export async function sampleGroup(pids: readonly number[]): Promise<GroupSample> {
  const atMs = performance.now();
  const readings = await Promise.all(pids.map(async (pid) => {
    try {
      const [cpu, rss, pss] = await Promise.all([cpuSeconds(pid), rssBytes(pid), pssBytes(pid)]);
      return { cpu, rss, pss };
    } catch {
      return null;
    }
  }));
  let cpuS = 0;
  let rss = 0;
  let pss = 0;
  let processes = 0;
  for (const r of readings) {
    if (r === null) continue;
    cpuS += r.cpu;
    rss += r.rss;
    pss += r.pss;
    processes++;
  }
  return { atMs, cpuS, rssBytes: rss, pssBytes: pss, processes };
}

/**
 * CPU used between two samples as a fraction of one core (1.0 = one core busy); null when a
 * process of the group could not be read in one of them (exited), since the sums then differ
 * by that process's whole CPU time.
 */
export function coresBetween(before: GroupSample, after: GroupSample): number | null {
  if (before.processes !== after.processes) return null;
  const wallS = (after.atMs - before.atMs) / 1000;
  return wallS > 0 ? (after.cpuS - before.cpuS) / wallS : 0;
}
