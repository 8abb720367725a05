import assert from "node:assert/strict";
import { expectedRows, judgeRows, verdictOf } from "./expected_results.ts";

const SEED = { miners: 100_000, offeredPerS: 10_000 };

Deno.test("expectedRows() holds every row of the seed's table, in its order", () => {
  assert.deepEqual(expectedRows(SEED).map((r) => r.metric), [
    "Connections established",
    "Share processing rate",
    "P99 share RTT",
    "CPU usage (pools, share of host cores)",
    "Memory usage (pools, PSS)",
    "Event emission latency (P99)",
    "Stale share rate",
    "Connection error rate",
  ]);
});

Deno.test("the seed's profile is judged by the seed's numbers", () => {
  const rows = Object.fromEntries(expectedRows(SEED).map((r) => [r.key, r]));
  assert.equal(rows.connections!.targetText, "100,000");
  assert.equal(rows.connections!.acceptableText, ">95,000");
  assert.equal(rows.shareRate!.targetText, "10,000/s");
  assert.equal(rows.shareRate!.acceptableText, ">8,000/s");
  assert.equal(verdictOf(rows.connections!, 100_000), "target");
  assert.equal(verdictOf(rows.connections!, 95_001), "acceptable");
  assert.equal(verdictOf(rows.connections!, 95_000), "miss");
  assert.equal(verdictOf(rows.shareRate!, 9_950), "target");
  assert.equal(verdictOf(rows.shareRate!, 8_001), "acceptable");
  assert.equal(verdictOf(rows.shareRate!, 7_367), "miss");
});

Deno.test("verdictOf() on lower-is-better rows: strictly under each bound", () => {
  const p99 = expectedRows(SEED).find((r) => r.key === "p99ShareRtt")!;
  assert.equal(verdictOf(p99, 9.99), "target");
  assert.equal(verdictOf(p99, 10), "acceptable");
  assert.equal(verdictOf(p99, 49.9), "acceptable");
  assert.equal(verdictOf(p99, 50), "miss");
  assert.equal(verdictOf(p99, 18_900), "miss");
  const memory = expectedRows(SEED).find((r) => r.key === "memory")!;
  assert.equal(verdictOf(memory, 2.08e9), "acceptable");
  assert.equal(verdictOf(memory, 0.9e9), "target");
});

Deno.test("verdictOf() says n/a for what was not measured", () => {
  const row = expectedRows(SEED)[5]!;
  assert.equal(verdictOf(row, null), "n/a");
  assert.equal(verdictOf(row, NaN), "n/a");
});

Deno.test("judgeRows() scales the two run-sized rows with the run", () => {
  const rows = judgeRows({ miners: 200, offeredPerS: 20 }, { connections: 200, shareRate: 19.9 });
  assert.equal(rows[0]!.verdict, "target");
  assert.equal(rows[1]!.verdict, "target");
  assert.equal(rows[2]!.verdict, "n/a");
  assert.equal(rows.length, 8);
});
