/**
 * A service process started for a benchmark: `deno <args>`, optionally pinned with `taskset`,
 * its JSON log lines collected, stopped with SIGTERM (the service drains) and SIGKILL after a
 * grace period, its temporary directory removed once it exited. Shared by bench_pool.ts and
 * bench_collector.ts, which add what is particular to each service.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { JsonLogCollector } from "../support/json_log_collector.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** How to start the process. */
export interface BenchProcessOptions {
  /** Arguments to `deno`, from `run` on; run from the repository root. */
  readonly denoArgs: readonly string[];
  /** `taskset -c` CPU list, e.g. "0"; unpinned when absent. */
  readonly cpus?: string | undefined;
  /** Environment added to `NO_COLOR=1`. */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** A directory the process owns (its config); removed once it exited. */
  readonly tempDir: string;
  /** How long after SIGTERM {@link BenchProcess.stop} sends SIGKILL. */
  readonly killAfterMs: number;
}

/** A running benchmark process. */
export interface BenchProcess {
  /** The spawned process (`taskset` execs deno, so this is deno's pid either way). */
  readonly pid: number;
  /** Its stdout and stderr lines. */
  readonly logs: JsonLogCollector;
  /** SIGTERM, then SIGKILL after `killAfterMs`; resolves with the exit code. */
  stop(): Promise<number>;
  /** How it exited ("exit code 1", "signal SIGSEGV"), or null if it still runs after `ms`. */
  exitDescription(ms: number): Promise<string | null>;
}

/** Spawns `deno` with `options.denoArgs`; does not wait for it to become ready. */
export function spawnBenchProcess(options: BenchProcessOptions): BenchProcess {
  const [command, args] = options.cpus === undefined
    ? [Deno.execPath(), [...options.denoArgs]]
    : ["taskset", ["-c", options.cpus, Deno.execPath(), ...options.denoArgs]];
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  const logs = new JsonLogCollector([child.stdout, child.stderr]);
  let exitedFlag = false;
  const status = child.status;
  const exited = status.then(async (status) => {
    exitedFlag = true;
    await logs.done;
    await Deno.remove(options.tempDir, { recursive: true }).catch(() => {});
    return status.code;
  });
  const kill = (signal: Deno.Signal): void => {
    try {
      child.kill(signal);
    } catch {
      // Already exited.
    }
  };
  return {
    pid: child.pid,
    logs,
    async exitDescription(ms) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms));
      const ended = await Promise.race([status, late]).finally(() => clearTimeout(timer));
      if (ended === null) return null;
      return ended.signal === null ? `exit code ${ended.code}` : `signal ${ended.signal}`;
    },
    async stop() {
      if (!exitedFlag) kill("SIGTERM");
      const killer = setTimeout(() => kill("SIGKILL"), options.killAfterMs);
      const code = await exited;
      clearTimeout(killer);
      return code;
    },
  };
}
