import assert from "node:assert/strict";
import { ManualClock, systemClock } from "./clock.ts";

Deno.test("ManualClock moves only when advanced", () => {
  const clock = new ManualClock(1_000);
  assert.equal(clock.nowMs(), 1_000);
  assert.equal(clock.nowMs(), 1_000);
  clock.advance(0.5);
  assert.equal(clock.nowMs(), 1_000.5);
  clock.advanceTo(5_000);
  assert.equal(clock.nowMs(), 5_000);
});

Deno.test("ManualClock refuses to go backwards", () => {
  const clock = new ManualClock(10);
  assert.throws(() => clock.advance(-1), RangeError);
  assert.throws(() => clock.advanceTo(9), RangeError);
  assert.throws(() => clock.advance(Number.NaN), RangeError);
  assert.throws(() => new ManualClock(Number.POSITIVE_INFINITY), RangeError);
  assert.equal(clock.nowMs(), 10);
});

Deno.test("systemClock reads epoch milliseconds and never decreases", () => {
  const first = systemClock.nowMs();
  const epochNow = Date.now();
  // Both derive from the same wall clock at process start; allow for NTP slew since then.
  assert.ok(Math.abs(first - epochNow) < 60_000);
  let last = first;
  for (let i = 0; i < 1_000; i++) {
    const next = systemClock.nowMs();
    assert.ok(next >= last);
    last = next;
  }
});
