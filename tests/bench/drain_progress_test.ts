import assert from "node:assert/strict";
import { crossingTime, sustainedRate } from "./drain_progress.ts";

const SAMPLES = [
  { epochMs: 0, acked: 0 },
  { epochMs: 1_000, acked: 100 },
  { epochMs: 2_000, acked: 500 },
  { epochMs: 3_000, acked: 900 },
  { epochMs: 4_000, acked: 1_000 },
];

Deno.test("crossingTime() interpolates between the samples around the target", () => {
  assert.equal(crossingTime(SAMPLES, 100), 1_000);
  assert.equal(crossingTime(SAMPLES, 300), 1_500);
  assert.equal(crossingTime(SAMPLES, 1_001), null);
});

Deno.test("sustainedRate() is the rate between two fractions of the backlog", () => {
  const rate = sustainedRate(SAMPLES, 1_000, 0.1, 0.9);
  assert.deepEqual(rate, { perS: 400, fromEpochMs: 1_000, toEpochMs: 3_000 });
});

Deno.test("sustainedRate() refuses unordered fractions and an unfinished drain", () => {
  assert.throws(() => sustainedRate(SAMPLES, 1_000, 0.9, 0.1), RangeError);
  assert.throws(() => sustainedRate(SAMPLES, 2_000, 0.1, 0.9), /1000 of 2000 acknowledged/);
});
