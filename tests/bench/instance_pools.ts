/**
 * Starting several pool processes as instances of one host: each through the launcher with
 * `--instance i` (so the kernel spreads a `reuse_port` listener's miners over them), waited for
 * until it logs "pool ready", then its service process found under the launcher. Shared by the
 * benchmark's pool sets (bench_pools.ts) and the load test's fleet (tools/loadtest/pool_fleet.ts).
 *
 * @module
 */
import { launchStratumArgs } from "./bench_pool.ts";
import { type BenchProcess, spawnBenchProcess } from "./bench_process.ts";
import { childPids } from "./proc_stats.ts";

/** One instance to start. */
export interface InstanceSpec {
  readonly instance: number;
  /** Its stratum config. */
  readonly configPath: string;
  /** A directory the process owns, removed once it exited. */
  readonly tempDir: string;
  /** `taskset -c` CPU list; unpinned when absent. */
  readonly cpus?: string;
  /** Environment added to the process's (e.g. `DENO_V8_FLAGS`). */
  readonly env?: Readonly<Record<string, string>>;
}

/** A started instance: the launcher process and the service it runs. */
export interface StartedInstance {
  readonly instance: number;
  readonly process: BenchProcess;
  readonly servicePid: number;
}

/** Bounds of {@link startInstances}. */
export interface InstanceBounds {
  /** How long all instances together may take to log "pool ready" (they start side by side). */
  readonly readyTimeoutMs: number;
  /** SIGKILL this long after SIGTERM. */
  readonly killAfterMs: number;
}

/**
 * Spawns every instance, waits until each is ready and finds its service pid. Every process
 * spawned is pushed onto `spawned` as it starts, so that the caller stops them all if this throws.
 *
 * @throws {Error} when an instance exits or stays silent (naming it, with its error lines and
 *   its exit code), or its launcher does not have exactly one child
 */
export async function startInstances(
  specs: readonly InstanceSpec[],
  bounds: InstanceBounds,
  spawned: BenchProcess[],
): Promise<StartedInstance[]> {
  const started = specs.map((spec) => {
    const process = spawnBenchProcess({
      denoArgs: launchStratumArgs(spec.configPath, ["--instance", String(spec.instance)]),
      ...(spec.cpus === undefined ? {} : { cpus: spec.cpus }),
      ...(spec.env === undefined ? {} : { env: spec.env }),
      tempDir: spec.tempDir,
      killAfterMs: bounds.killAfterMs,
    });
    spawned.push(process);
    return { instance: spec.instance, process };
  });
  await Promise.all(
    started.map(({ instance, process }) =>
      process.logs.waitFor((l) => l.msg === "pool ready", bounds.readyTimeoutMs, `pool ${instance}`)
        .catch(async (e) => {
          // The last lines are often routine; the reason is in a warning, an error or a line that
          // is not JSON (an uncaught exception), or in the exit code alone (a crash prints nothing).
          const reasons = process.logs.logs.filter((l) =>
            l.level === "error" || l.level === "fatal" || "raw" in l
          ).slice(-5);
          const code = await process.exitDescription(1_000) ?? "still running";
          throw new Error(
            `${e instanceof Error ? e.message : e} (${code}); errors: ${JSON.stringify(reasons)}`,
          );
        })
    ),
  );
  const instances: StartedInstance[] = [];
  for (const { instance, process } of started) {
    const children = await childPids(process.pid);
    if (children.length !== 1) {
      throw new Error(`Cannot find pool ${instance}'s service: its launcher has ${children}`);
    }
    instances.push({ instance, process, servicePid: children[0]! });
  }
  return instances;
}
