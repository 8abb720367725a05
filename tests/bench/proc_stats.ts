/**
 * Reads a process's CPU time, resident memory and children from Linux /proc, so benchmarks can
 * measure the real pool service (the launcher's child) rather than the launcher.
 *
 * Deno refuses to read /proc without --allow-all (even with --allow-read), and `deno task bench`
 * grants --allow-run instead, so the files are read through `cat` and children listed by `ps`.
 */

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux ABI in use). */
export const USER_HZ = 100;

/** The fields of /proc/<pid>/stat a benchmark needs. */
export interface ProcStat {
  readonly ppid: number;
  readonly utimeTicks: number;
  readonly stimeTicks: number;
}

/**
 * Parses /proc/<pid>/stat. The command name may hold spaces and parentheses, so fields are
 * counted from the last ")".
 *
 * @throws {SyntaxError} when the text is not in that format.
 */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(")");
  if (close === -1) throw new SyntaxError("Cannot parse /proc stat: no command name");
  // After ")": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  const fields = text.slice(close + 1).trim().split(/\s+/);
  const ppid = Number(fields[1]);
  const utimeTicks = Number(fields[11]);
  const stimeTicks = Number(fields[12]);
  if (![ppid, utimeTicks, stimeTicks].every(Number.isInteger)) {
    throw new SyntaxError(`Cannot parse /proc stat: unexpected fields "${text.slice(0, 120)}"`);
  }
  return { ppid, utimeTicks, stimeTicks };
}

/**
 * Resident set size in bytes from /proc/<pid>/status (the `VmRSS:` line, in kB).
 *
 * @throws {SyntaxError} when there is no VmRSS line.
 */
export function parseVmRssBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new SyntaxError("Cannot parse /proc status: no VmRSS line");
  return Number(match[1]) * 1024;
}

/**
 * The fields of /proc/<pid>/smaps_rollup in bytes (`Rss`, `Pss`, `Anonymous`, …). Pss charges
 * each shared page (the deno binary's, mapped by every Deno process) in part to each process
 * that maps it, so Pss adds up across processes where Rss counts shared pages in each.
 *
 * @throws {SyntaxError} when there is no Pss line.
 */
export function parseSmapsRollup(text: string): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const match of text.matchAll(/^(\w+):\s+(\d+)\s+kB$/gm)) {
    fields[match[1]!] = Number(match[2]) * 1024;
  }
  if (fields.Pss === undefined) throw new SyntaxError("Cannot parse smaps_rollup: no Pss line");
  return fields;
}

/** Reads a /proc file through `cat` (see the module note). */
export async function readProcFile(path: string): Promise<string> {
  const out = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`Cannot read ${path}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** User plus system CPU seconds the process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = parseProcStat(await readProcFile(`/proc/${pid}/stat`));
  return (stat.utimeTicks + stat.stimeTicks) / USER_HZ;
}

/** Current resident set size in bytes. */
export async function rssBytes(pid: number): Promise<number> {
  return parseVmRssBytes(await readProcFile(`/proc/${pid}/status`));
}

/** Direct children of `pid`. */
export async function childPids(pid: number): Promise<number[]> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "pid=", "--ppid", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split(/\s+/).filter((w) => w !== "").map(Number);
}

/**
 * Start time of a process in clock ticks after boot (`starttime`, field 22 of /proc/<pid>/stat).
 *
 * @throws {SyntaxError} when the text is not in that format.
 */
export function parseStartTicks(text: string): number {
  const close = text.lastIndexOf(")");
  const fields = close === -1 ? [] : text.slice(close + 1).trim().split(/\s+/);
  const ticks = Number(fields[19]);
  if (!Number.isInteger(ticks)) {
    throw new SyntaxError(`Cannot parse /proc stat: no start time in "${text.slice(0, 120)}"`);
  }
  return ticks;
}

/**
 * How long the process has been running, in ms (10 ms resolution): the clock V8's GC trace
 * stamps its lines with, give or take the runtime's start-up.
 */
export async function processAgeMs(pid: number): Promise<number> {
  const startTicks = parseStartTicks(await readProcFile(`/proc/${pid}/stat`));
  const uptimeS = Number((await readProcFile("/proc/uptime")).split(/\s+/)[0]);
  if (!Number.isFinite(uptimeS)) throw new SyntaxError("Cannot parse /proc/uptime");
  return uptimeS * 1000 - (startTicks / USER_HZ) * 1000;
}
