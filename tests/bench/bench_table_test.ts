import assert from "node:assert/strict";
import { median, medianRow, tableHeader, tableRow } from "./bench_table.ts";

const COLUMNS = [
  { key: "rate", label: "responses/s", digits: 0 },
  { key: "cpu", label: "CPU-s per 1k", digits: 3 },
];

Deno.test("median() takes the middle value of an odd count regardless of order", () => {
  assert.equal(median([9, 1, 5]), 5);
});

Deno.test("median() averages the middle two of an even count", () => {
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

Deno.test("median() refuses an empty list", () => {
  assert.throws(() => median([]), RangeError);
});

Deno.test("medianRow() takes each column's median and skips runs that lack it", () => {
  const row = medianRow(COLUMNS, [{ rate: 100, cpu: 0.1 }, { rate: 300 }, { rate: 200, cpu: 0.3 }]);
  assert.deepEqual(row, { rate: 200, cpu: 0.2 });
});

Deno.test("tableRow() formats with thousands separators, fixed digits and a dash for gaps", () => {
  assert.equal(tableRow("median", COLUMNS, { rate: 12345.6 }), "| median | 12,346 | – |");
  assert.equal(tableRow("run 1", COLUMNS, { rate: 5, cpu: 0.03333 }), "| run 1 | 5 | 0.033 |");
});

Deno.test("tableHeader() lists the labels and a separator of the same width", () => {
  assert.equal(
    tableHeader("run", COLUMNS),
    "| run | responses/s | CPU-s per 1k |\n|---|---|---|",
  );
});
