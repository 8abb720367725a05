import assert from "node:assert/strict";
import { sleep, Wakeup } from "./wakeup.ts";

Deno.test("Wakeup.notify() releases every waiter, and later waits need a new notify", async () => {
  const wakeup = new Wakeup();
  const released: number[] = [];
  const a = wakeup.wait().then(() => released.push(1));
  const b = wakeup.wait().then(() => released.push(2));
  wakeup.notify();
  await Promise.all([a, b]);
  assert.deepEqual(released, [1, 2]);
  let late = false;
  const c = wakeup.wait().then(() => {
    late = true;
  });
  await Promise.resolve();
  assert.equal(late, false);
  wakeup.notify();
  await c;
  assert.equal(late, true);
});

Deno.test("sleep() returns at once when its signal aborts", async () => {
  const controller = new AbortController();
  const slept = sleep(60_000, controller.signal);
  controller.abort();
  await slept;
  await sleep(60_000, controller.signal);
});
