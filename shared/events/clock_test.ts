import assert from "node:assert/strict";
import { nowMicros } from "./clock.ts";

Deno.test("nowMicros() returns safe integers that never decrease", () => {
  let previous = nowMicros();
  for (let i = 0; i < 100_000; i++) {
    const current = nowMicros();
    assert.ok(Number.isSafeInteger(current));
    assert.ok(current >= previous, `${current} < ${previous}`);
    previous = current;
  }
});

Deno.test("nowMicros() counts microseconds since the Unix epoch", () => {
  const before = Date.now();
  const micros = nowMicros();
  const after = Date.now();
  // The monotonic clock can drift from the wall clock by what NTP has slewed since start;
  // a minute is far beyond that and far below the 1000x error of a unit mistake.
  assert.ok(micros >= (before - 60_000) * 1000 && micros <= (after + 60_000) * 1000);
});
