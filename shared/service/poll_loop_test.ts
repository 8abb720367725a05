import assert from "node:assert/strict";
import { PollLoop } from "./poll_loop.ts";

Deno.test("PollLoop polls at once, never overlaps, and stop() aborts the poll in flight", async () => {
  let started = 0;
  let active = 0;
  let overlapped = false;
  let loop: PollLoop | undefined = undefined;
  const aborted: boolean[] = [];
  const secondStarted = Promise.withResolvers<void>();
  loop = new PollLoop(1, async () => {
    started++;
    if (active > 0) overlapped = true;
    active++;
    try {
      if (started === 2) {
        secondStarted.resolve();
        // The second poll waits until stop() aborts it.
        const signal = loop!.signal;
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
        aborted.push(signal.aborted);
      }
      if (started === 1) throw new Error("a failed poll does not end the loop");
    } finally {
      active--;
    }
  });
  loop.start();
  loop.start(); // a second start is a no-op
  await secondStarted.promise;
  await loop.stop();
  assert.equal(started, 2);
  assert.equal(overlapped, false);
  assert.deepEqual(aborted, [true]);
  // Stopped: no poll after the one stop() waited for.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(started, 2);
});

Deno.test("PollLoop refuses an interval that is not positive and finite", () => {
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => new PollLoop(bad, () => Promise.resolve()), RangeError);
  }
});
