import assert from "node:assert/strict";
import { judgeRows } from "./expected_results.ts";
import { compareRuns } from "./regression.ts";
import { formatComparison, formatSeedTable, formatValue } from "./loadtest_report.ts";

Deno.test("formatSeedTable() prints every row with its measured value and verdict", () => {
  const rows = judgeRows({ miners: 100_000, offeredPerS: 10_000 }, {
    connections: 100_000,
    shareRate: 7_367,
    p99ShareRtt: 18_900,
    memory: 2.08e9,
  });
  const text = formatSeedTable(rows);
  const lines = text.split("\n");
  assert.equal(lines.length, 2 + 8);
  assert.match(lines[2]!, /Connections established +\| 100,000 +\| >95,000 +\| 100,000 +\| target/);
  assert.match(lines[3]!, /Share processing rate .*\| 7,367\/s +\| miss/);
  assert.match(lines[6]!, /2\.080 GB +\| acceptable/);
  assert.match(lines[7]!, /— +\| n\/a/);
});

Deno.test("formatComparison() marks regressed rows and says how many", () => {
  const profile = { miners: 100, offeredPerS: 10 };
  const before = judgeRows(profile, { p99ShareRtt: 10 });
  const after = judgeRows(profile, { p99ShareRtt: 20 });
  const text = formatComparison(compareRuns(before, after, 10), 10);
  assert.match(text, /P99 share RTT +\| 10\.0 ms +\| 20\.0 ms +\| \+100\.0 % \| REGRESSED/);
  assert.match(text, /1 row\(s\) worse than the previous run by more than 10 %/);
});

Deno.test("formatValue() picks a precision per unit", () => {
  assert.equal(formatValue("ms", 0.0274), "0.027 ms");
  assert.equal(formatValue("%", 0), "0.0000 %");
  assert.equal(formatValue("bytes", 1.5e9), "1.500 GB");
  assert.equal(formatValue("ms", null), "—");
});
