import assert from "node:assert/strict";
import { configureLogging, getLogger, shutdownLogging } from "../log/mod.ts";
import { reloadOnSighup } from "./signal_reload.ts";

async function withLogLines(fn: (lines: string[]) => Promise<void>): Promise<void> {
  const lines: string[] = [];
  await configureLogging({
    service: "stratum",
    level: "info",
    sink: (line) => lines.push((JSON.parse(line) as { msg: string }).msg),
  });
  try {
    await fn(lines);
  } finally {
    await shutdownLogging();
  }
}

Deno.test("reloadOnSighup() listens for SIGHUP and reloads on each one, never exiting", async () => {
  await withLogLines(async (lines) => {
    const handlers = new Map<Deno.Signal, () => void>();
    let reloads = 0;
    const handler = reloadOnSighup({
      log: getLogger(["stratum"]),
      reload: () => Promise.resolve(++reloads % 2 === 1),
      listen: (signal, h) => handlers.set(signal, h),
    });
    assert.deepEqual([...handlers.keys()], ["SIGHUP"]);
    await handler();
    await handler();
    assert.equal(reloads, 2);
    assert.deepEqual(lines, ["signal received, reloading", "signal received, reloading"]);
  });
});

Deno.test("reloadOnSighup() says so when there is nothing to reload", async () => {
  await withLogLines(async (lines) => {
    const handler = reloadOnSighup({
      log: getLogger(["stratum"]),
      reload: () => Promise.resolve(null),
      listen: () => {},
    });
    await handler();
    assert.deepEqual(lines, ["signal received, reloading", "nothing to reload (no TLS listener)"]);
  });
});
