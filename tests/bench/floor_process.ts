/**
 * Runs floor_responder.ts as its own process pinned like the pool, for the calibration
 * scenarios: its port, a trigger for its fan-out broadcast, and stop.
 */
import { fileURLToPath } from "node:url";
import { POOL_CPU } from "./submit_workload.ts";

const RESPONDER = fileURLToPath(new URL("./floor_responder.ts", import.meta.url));
const START_TIMEOUT_MS = 30_000;
const BROADCAST_TIMEOUT_MS = 30_000;

/** A running responder. */
export interface FloorProcess {
  readonly port: number;
  /** The command line, for reports. */
  readonly commandLine: string;
  /** SIGUSR1: a new clean job to every authorized connection; resolves with its start and loop time. */
  broadcast(): Promise<{ epochMs: number; loopMs: number }>;
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

/** Starts the responder on a free port, pinned to the pool's core. */
export async function startFloorProcess(): Promise<FloorProcess> {
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      POOL_CPU,
      Deno.execPath(),
      "run",
      "--allow-net=127.0.0.1",
      RESPONDER,
      "--port",
      "0",
    ],
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
    commandLine:
      `taskset -c ${POOL_CPU} deno run --allow-net=127.0.0.1 tests/bench/floor_responder.ts --port 0`,
    async broadcast() {
      const event = nextEvent("broadcast");
      child.kill("SIGUSR1");
      const e = await withTimeout(event, BROADCAST_TIMEOUT_MS, "broadcast");
      return { epochMs: Number(e.epochMs), loopMs: Number(e.loopMs) };
    },
    stop,
  };
}
