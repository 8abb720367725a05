import assert from "node:assert/strict";
import { backoffDelayMs } from "./retry_backoff.ts";

const options = { initialMs: 100, maxMs: 5_000 };

Deno.test("backoffDelayMs() doubles per attempt between half and all of the base", () => {
  assert.equal(backoffDelayMs(0, options, 0), 50);
  assert.equal(backoffDelayMs(0, options, 1), 100);
  assert.equal(backoffDelayMs(3, options, 0), 400);
  assert.equal(backoffDelayMs(3, options, 0.5), 600);
});

Deno.test("backoffDelayMs() never exceeds maxMs, even after many attempts", () => {
  assert.equal(backoffDelayMs(10, options, 1), 5_000);
  assert.equal(backoffDelayMs(10_000, options, 1), 5_000);
  assert.equal(backoffDelayMs(10_000, options, 0), 2_500);
});
