/**
 * The pool run the way production runs it: the launcher (`tools/launch.ts run stratum`) under a
 * supervisor that applies `infra/systemd/tbg-stratum@.service`'s restart policy (read from the
 * unit file), so a chaos test can kill the service process and watch it come back. There is no
 * systemd here (PID 1 is not systemd in this container): this reproduces the part of it that
 * matters, start the main process again `RestartSec=` after an exit that `Restart=` covers.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { JsonLogCollector, type LogLine } from "./json_log_collector.ts";
import {
  type DevnetEndpoint,
  launcherCommand,
  type PoolProcess,
  servicePid,
  writePoolConfig,
} from "./pool_process.ts";
import { parseRestartPolicy, type RestartPolicy, shouldRestart } from "./restart_policy.ts";

const UNIT = fileURLToPath(new URL("../../infra/systemd/tbg-stratum@.service", import.meta.url));
const READY_TIMEOUT_MS = 60_000;

/** One start of the main process. */
export interface SupervisedRun {
  /** Wall-clock ms when the supervisor spawned it. */
  readonly spawnedAtMs: number;
  /** When it logged "pool ready", if it did. */
  readyAtMs: number | undefined;
  /** When it exited, and with what code. */
  exit: { readonly atMs: number; readonly code: number } | undefined;
  readonly logs: readonly LogLine[];
  readonly pid: number;
}

/** A pool under the supervisor. `logs` and `waitForLog` follow the current run. */
export interface SupervisedPool extends PoolProcess {
  /** The policy in force, from the unit file. */
  readonly policy: RestartPolicy;
  /** Every run so far, oldest first. */
  readonly runs: readonly SupervisedRun[];
  /** Waits until run number `index` (0-based) has logged "pool ready"; bounded. */
  waitReady(index: number, timeoutMs?: number): Promise<SupervisedRun>;
  /**
   * Sends `signal` to the current run's service process (the launcher's child), as `kill -9` of
   * the pool would.
   *
   * @throws {Error} If the service process cannot be found.
   */
  signalService(signal: Deno.Signal): Promise<number>;
}

/**
 * Writes a config for `devnet` (plus overrides), starts the pool under the supervisor and waits
 * for its first ready line.
 */
export async function startSupervisedPool(
  devnet: DevnetEndpoint,
  overrides: Record<string, unknown> = {},
  options: { readonly v8Flags?: string } = {},
): Promise<SupervisedPool> {
  const policy = parseRestartPolicy(await Deno.readTextFile(UNIT));
  const { dir, configPath, stratumPort, metricsPort } = await writePoolConfig(devnet, overrides);
  const runs: (SupervisedRun & { child: Deno.ChildProcess; collector: JsonLogCollector })[] = [];
  let supervising = true;
  let wakeRestart: (() => void) | undefined;
  let resolveExited: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => (resolveExited = resolve));

  const current = () => runs[runs.length - 1]!;
  const spawn = () => {
    const child = launcherCommand(configPath, [], "stratum", options).spawn();
    const collector = new JsonLogCollector([child.stdout, child.stderr]);
    const run = {
      spawnedAtMs: Date.now(),
      readyAtMs: undefined as number | undefined,
      exit: undefined as SupervisedRun["exit"],
      logs: collector.logs,
      pid: child.pid,
      child,
      collector,
    };
    runs.push(run);
    collector.waitFor((l) => l.msg === "pool ready", READY_TIMEOUT_MS, "pool")
      .then(() => (run.readyAtMs = Date.now()), () => {});
    child.status.then(async (status) => {
      await collector.done;
      run.exit = { atMs: Date.now(), code: status.code };
      if (!supervising || !shouldRestart(policy, status.code)) {
        supervising = false;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        resolveExited(status.code);
        return;
      }
      // RestartSec=: the wait a stop() cuts short.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, policy.restartSecMs);
        wakeRestart = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeRestart = undefined;
      if (supervising) spawn();
      else {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        resolveExited(status.code);
      }
    });
  };
  spawn();

  const waitReady = async (index: number, timeoutMs = READY_TIMEOUT_MS) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const run = runs[index];
      if (run?.readyAtMs !== undefined) return run;
      if (!supervising && (run === undefined || run.exit !== undefined)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const tail = JSON.stringify(current().logs.slice(-20));
    throw new Error(`Timed out waiting for run ${index} of the supervised pool: ${tail}`);
  };
  await waitReady(0);

  return {
    policy,
    runs,
    stratumPort,
    metricsPort,
    configPath,
    get logs() {
      return current().logs as Record<string, unknown>[];
    },
    waitForLog(predicate, timeoutMs = 20_000) {
      return current().collector.waitFor(predicate, timeoutMs, "pool");
    },
    exited,
    get pid() {
      return current().pid;
    },
    waitReady,
    async signalService(signal) {
      const pid = await servicePid(current().pid);
      Deno.kill(pid, signal);
      return pid;
    },
    signal(signal) {
      try {
        current().child.kill(signal);
      } catch {
        // Already exited.
      }
    },
    async stop() {
      supervising = false;
      wakeRestart?.();
      try {
        current().child.kill("SIGTERM");
      } catch {
        // Already exited, or between runs.
      }
      return await exited;
    },
  };
}
