/**
 * Runs one of our services (stratum, relay, collector) as its own child process with exactly the
 * permissions its config implies (the flags `tools/launch.ts` derives), so the simulation can
 * stop it gracefully (SIGTERM: drain) or crash it (SIGKILL) and start it again on the same
 * config and ports. The launcher itself is not in between: it forwards SIGTERM but could not
 * pass on a SIGKILL, and one process fewer per service matters on two cores.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { ServiceKind } from "@tbg/shared/config";
import { serviceFlags } from "../../../tools/launch.ts";
import { JsonLogCollector, type LogLine } from "../json_log_collector.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
/** Log line each service prints once it serves. */
const READY_MESSAGE: Record<ServiceKind, string> = {
  stratum: "pool ready",
  relay: "pool ready",
  collector: "collector ready",
};
const DEFAULT_READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 20_000;

/** A service process that can be stopped, crashed and started again on the same config. */
export interface ServiceProcess {
  /** Service kind. */
  readonly kind: ServiceKind;
  /** Label in messages, e.g. `relay us-east`. */
  readonly name: string;
  /** The config file it runs with. */
  readonly configPath: string;
  /** Log lines of the current run (each start begins a new list). */
  readonly logs: readonly LogLine[];
  /** Whether a run is under way (started and not yet exited). */
  readonly running: boolean;
  /** Waits for a log line of the current run matching `predicate` (bounded). */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM (the service drains), SIGKILL after a grace period; resolves with the exit code. */
  stop(): Promise<number>;
  /** Sends SIGKILL (a crash) and resolves with the exit code once the process is gone. */
  crash(): Promise<number>;
  /** Starts the service again with the same config; resolves once it reports ready. */
  start(): Promise<void>;
}

/** Options of {@link startServiceProcess}. */
export interface ServiceProcessOptions {
  /** Service kind. */
  readonly kind: ServiceKind;
  /** Label in messages. */
  readonly name: string;
  /** The config file (already written). */
  readonly configPath: string;
  /** Longest wait for the ready line, per start. Default 60 s. */
  readonly readyTimeoutMs?: number;
}

interface Run {
  readonly child: Deno.ChildProcess;
  readonly logs: JsonLogCollector;
  readonly exited: Promise<number>;
}

/**
 * Starts a service and waits until it reports ready.
 *
 * @param options Kind, label, config file.
 * @returns The running service.
 * @throws {Error} If the config is refused (the launcher's message) or the service exits or
 *   stays silent before it is ready; the process is killed first.
 */
export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const { kind, name, configPath } = options;
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const flags = serviceFlags(kind, configPath);
  let run: Run | null = null;

  const spawn = async (): Promise<void> => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, `${ROOT}/${kind}/main.ts`, "--config", configPath],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const logs = new JsonLogCollector([child.stdout, child.stderr], 20_000);
    const exited = child.status.then(async (status) => {
      await logs.done;
      return status.code;
    });
    const current: Run = { child, logs, exited };
    run = current;
    try {
      await logs.waitFor((line) => line.msg === READY_MESSAGE[kind], readyTimeoutMs, name);
    } catch (error) {
      signal(current, "SIGKILL");
      await current.exited;
      throw error;
    }
  };

  const signal = (target: Run, sig: Deno.Signal): void => {
    try {
      target.child.kill(sig);
    } catch {
      // Already exited.
    }
  };

  let running = false;
  const current = (): Run => {
    if (run === null) throw new Error(`Cannot use ${name}: never started`);
    return run;
  };

  await spawn();
  running = true;
  current().exited.then(() => (running = false));

  return {
    kind,
    name,
    configPath,
    get logs() {
      return current().logs.logs;
    },
    get running() {
      return running;
    },
    waitForLog(predicate, timeoutMs = 20_000) {
      return current().logs.waitFor(predicate, timeoutMs, name);
    },
    async stop(): Promise<number> {
      const target = current();
      signal(target, "SIGTERM");
      const timer = setTimeout(() => signal(target, "SIGKILL"), STOP_GRACE_MS);
      try {
        return await target.exited;
      } finally {
        clearTimeout(timer);
      }
    },
    async crash(): Promise<number> {
      const target = current();
      signal(target, "SIGKILL");
      return await target.exited;
    },
    async start(): Promise<void> {
      if (running) throw new Error(`Cannot start ${name}: it is running`);
      await spawn();
      running = true;
      current().exited.then(() => (running = false));
    },
  };
}
