/**
 * Runs floor_responder.ts as its own process pinned like the pool, for the calibration
 * scenarios: its port, a trigger for its fan-out broadcast, and stop.
 */
import { fileURLToPath } from "node:url";
import { POOL_CPU } from "./submit_workload.ts";

const RESPONDER = fileURLToPath(new URL("./floor_responder.ts", import.meta.url));
const START_TIMEOUT_MS = 30_000;
const BROADCAST_TIMEOUT_MS = 30_000;

/** One broadcast: the job id sent, when it started (wall clock) and its queueing loop's time. */
export interface FloorBroadcast {
  readonly jobId: string;
  readonly epochMs: number;
  readonly loopMs: number;
}

/** A running responder. */
export interface FloorProcess {
  readonly port: number;
  /** The responder's process id (`taskset` execs deno). */
  readonly pid: number;
  /** The command line, for reports. */
  readonly commandLine: string;
  /** SIGUSR1: a new clean job to every authorized connection; resolves with its start and loop time. */
  broadcast(): Promise<FloorBroadcast>;
  stop(): Promise<void>;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Cannot ${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Where and how to start one responder (the defaults: a free port, the pool's core). */
export interface FloorProcessOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  readonly port?: number;
  /** Share the port with other responders (SO_REUSEPORT), like the pool's `reuse_port`. */
  readonly reusePort?: boolean;
  /** Instance index: the second byte of the extranonce1 values it hands out. */
  readonly instance?: number;
  /** `taskset -c` CPU list; POOL_CPU when absent. */
  readonly cpus?: string;
}

/** Starts the responder (on a free port, pinned to the pool's core unless told otherwise). */
export async function startFloorProcess(options: FloorProcessOptions = {}): Promise<FloorProcess> {
  const cpus = options.cpus ?? POOL_CPU;
  const responderArgs = [
    "--port",
    String(options.port ?? 0),
    ...(options.instance === undefined ? [] : ["--instance", String(options.instance)]),
    ...(options.reusePort === true ? ["--reuse-port"] : []),
  ];
  const flags = [
    "--allow-net=127.0.0.1",
    ...(options.reusePort === true ? ["--unstable-net"] : []),
  ];
  const child = new Deno.Command("taskset", {
    args: ["-c", cpus, Deno.execPath(), "run", ...flags, RESPONDER, ...responderArgs],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const events: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  void (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of child.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = pending.indexOf("\n")) !== -1) {
        events.push(JSON.parse(pending.slice(0, nl)) as Record<string, unknown>);
        pending = pending.slice(nl + 1);
        for (const check of [...waiters]) check();
      }
    }
  })();
  const nextEvent = (name: string): Promise<Record<string, unknown>> =>
    new Promise((resolve) => {
      const check = () => {
        const i = events.findIndex((e) => e.event === name);
        if (i === -1) return;
        waiters.delete(check);
        resolve(events.splice(i, 1)[0]!);
      };
      waiters.add(check);
      check();
    });
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
  };
  let port: number;
  try {
    const listening = await withTimeout(nextEvent("listening"), START_TIMEOUT_MS, "start");
    port = Number(listening.port);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    port,
    pid: child.pid,
    commandLine: `taskset -c ${cpus} deno run ${flags.join(" ")} tests/bench/floor_responder.ts ` +
      responderArgs.join(" "),
    async broadcast() {
      const event = nextEvent("broadcast");
      child.kill("SIGUSR1");
      const e = await withTimeout(event, BROADCAST_TIMEOUT_MS, "broadcast");
      return { jobId: String(e.jobId), epochMs: Number(e.epochMs), loopMs: Number(e.loopMs) };
    },
    stop,
  };
}
