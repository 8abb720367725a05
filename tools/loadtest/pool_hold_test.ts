import assert from "node:assert/strict";
import { poolHoldMs } from "./pool_hold.ts";

const T = 1_700_000_000_000;
const options = { durationS: 120, warmupS: 5 };

Deno.test("poolHoldMs: the duration less a second when every generator was ready together", () => {
  assert.equal(poolHoldMs(options, T, T + 5_000), 119_000);
});

Deno.test("poolHoldMs: ends a second before the first generator process ends its window", () => {
  // The first process was ready 8 s before the window opened (the last one ready + warm-up):
  // its window ends at T + 125 s, so the pools' hold must end by T + 124 s.
  const opened = T + 8_000;
  assert.equal(poolHoldMs(options, T, opened), 116_000);
  assert.equal(opened + poolHoldMs(options, T, opened), T + 124_000);
});

Deno.test("poolHoldMs: never negative; the full hold without a ready time", () => {
  assert.equal(poolHoldMs(options, T, T + 200_000), 0);
  assert.equal(poolHoldMs(options, 0, T), 119_000);
});
