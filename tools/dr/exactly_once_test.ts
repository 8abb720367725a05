import assert from "node:assert/strict";
import { compareIds } from "./exactly_once.ts";

Deno.test("ids published and stored once each compare clean, whatever the order", () => {
  const result = compareIds(["a", "b", "c"], ["c", "a", "b"]);
  assert.deepEqual(result, { published: 3, missing: [], extra: [], duplicates: 0 });
});

Deno.test("a lost, an unknown and a doubled event are each reported", () => {
  const result = compareIds(["a", "b", "c", "a"], ["a", "a", "c", "z"]);
  assert.equal(result.published, 3);
  assert.deepEqual(result.missing, ["b"]);
  assert.deepEqual(result.extra, ["z"]);
  assert.equal(result.duplicates, 1);
});
