import assert from "node:assert/strict";
import { configureLogging, getLogger, shutdownLogging } from "../log/mod.ts";
import { drainOnSignals } from "./signal_drain.ts";

class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

Deno.test("drainOnSignals() listens for SIGTERM and SIGINT and drains once, then exits 0", async () => {
  const steps: string[] = [];
  const handlers = new Map<Deno.Signal, () => void>();
  await configureLogging({
    service: "relay",
    level: "info",
    sink: (line) => {
      const parsed = JSON.parse(line) as { msg: string; signal: string };
      steps.push(`log ${parsed.msg} ${parsed.signal}`);
    },
  });
  try {
    const stop = drainOnSignals({
      log: getLogger(["relay"]),
      drain: () => {
        steps.push("drain");
        return Promise.resolve();
      },
      shutdown: () => {
        steps.push("shutdown");
        return Promise.resolve();
      },
      exit: (code) => {
        steps.push(`exit ${code}`);
        throw new Exited(code);
      },
      listen: (signal, handler) => handlers.set(signal, handler),
    });
    assert.deepEqual([...handlers.keys()], ["SIGTERM", "SIGINT"]);
    await assert.rejects(stop("SIGTERM"), Exited);
    await stop("SIGINT");
    assert.deepEqual(steps, [
      "log signal received, draining SIGTERM",
      "drain",
      "shutdown",
      "exit 0",
    ]);
  } finally {
    await shutdownLogging();
  }
});

Deno.test("drainOnSignals() ignores a signal that arrives while a drain is under way", async () => {
  let drains = 0;
  let finishDrain = (): void => {};
  const exits: number[] = [];
  await configureLogging({ service: "collector", level: "info", sink: () => {} });
  try {
    const stop = drainOnSignals({
      log: getLogger(["collector"]),
      drain: () => {
        drains++;
        return new Promise<void>((resolve) => finishDrain = resolve);
      },
      shutdown: () => Promise.resolve(),
      exit: (code) => {
        exits.push(code);
        throw new Exited(code);
      },
      listen: () => {},
    });
    const first = stop("SIGINT");
    await stop("SIGINT");
    await stop("SIGTERM");
    assert.equal(drains, 1);
    assert.deepEqual(exits, []);
    finishDrain();
    await assert.rejects(first, Exited);
    assert.deepEqual(exits, [0]);
  } finally {
    await shutdownLogging();
  }
});
