import assert from "node:assert/strict";
import { Backoff, LogThrottle } from "./backoff.ts";

Deno.test("Backoff doubles its step up to the maximum, jittered within the upper half", () => {
  const low = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => low.next()), [50, 100, 200, 400, 500, 500]);
  const high = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => high.next()), [100, 200, 400, 800, 1000]);
  assert.equal(high.attempts, 5);
});

Deno.test("Backoff.reset() starts over from the initial delay", () => {
  const backoff = new Backoff({ initialMs: 10, maxMs: 80, random: () => 0 });
  backoff.next();
  backoff.next();
  backoff.reset();
  assert.equal(backoff.attempts, 0);
  assert.equal(backoff.next(), 5);
});

Deno.test("Backoff rejects non-positive or inverted delays", () => {
  assert.throws(() => new Backoff({ initialMs: 0, maxMs: 10 }), RangeError);
  assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), RangeError);
});

Deno.test("LogThrottle lets one line per interval through and counts the rest", () => {
  let now = 1000;
  const throttle = new LogThrottle(5000, () => now);
  assert.equal(throttle.take(), 0);
  now += 100;
  assert.equal(throttle.take(), undefined);
  assert.equal(throttle.take(), undefined);
  now += 4900;
  assert.equal(throttle.take(), 2);
  assert.equal(throttle.take(), undefined);
});
