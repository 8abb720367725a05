import assert from "node:assert/strict";
import { quantile } from "./region_probes.ts";

Deno.test("quantile takes the nearest rank and leaves its input alone", () => {
  const values = [5, 1, 4, 2, 3];
  assert.equal(quantile(values, 0), 1);
  assert.equal(quantile(values, 0.5), 3);
  assert.equal(quantile(values, 0.99), 5);
  assert.equal(quantile(values, 1), 5);
  assert.deepEqual(values, [5, 1, 4, 2, 3]);
});

Deno.test("quantile of nothing is NaN and a bad q is refused", () => {
  assert.ok(Number.isNaN(quantile([], 0.5)));
  assert.throws(() => quantile([1], 1.5), RangeError);
});
