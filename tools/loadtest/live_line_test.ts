import assert from "node:assert/strict";
import * as hdr from "hdr-histogram-js";
import { newLatencyHistogram } from "../../tests/load/load_summary.ts";
import { formatLiveLine, LiveProgress } from "./live_line.ts";

function progress(established: number, responsesAll: number, latenciesUs: number[]) {
  const h = newLatencyHistogram();
  for (const us of latenciesUs) h.recordValue(us);
  return {
    epochMs: 0,
    established,
    failed: 0,
    closedByServer: 0,
    responsesAll,
    histogram: hdr.encodeIntoCompressedBase64(h),
  };
}

Deno.test("LiveProgress keeps each process's latest event and merges them", () => {
  const live = new LiveProgress();
  assert.deepEqual(live.merged(), { established: 0, failed: 0, responsesAll: 0, p99Ms: null });
  live.update(0, progress(5, 10, [1000]));
  live.update(0, progress(7, 20, Array(99).fill(1000)));
  live.update(1, progress(3, 5, [50_000]));
  const m = live.merged();
  assert.equal(m.established, 10);
  assert.equal(m.responsesAll, 25);
  // 100 samples, the slowest 1 at 50 ms: p99 is the 99th, 1 ms.
  assert.equal(m.p99Ms, 1);
});

Deno.test("formatLiveLine() shows connections, rate, p99, pool and generator figures", () => {
  const line = formatLiveLine({
    elapsedS: 30,
    phase: "hold",
    established: 9_990,
    miners: 10_000,
    failed: 10,
    sharesPerS: 1000.4,
    p99Ms: 3.25,
    poolCores: 0.5,
    poolRssBytes: 400e6,
    poolPssBytes: 300e6,
    poolHeap: { usedBytes: 90e6, totalBytes: 150e6 },
    generatorCores: 0.25,
    generatorRssBytes: 120e6,
  });
  assert.equal(
    line,
    "[   30 s hold  ] | conns 9990/10000 (10 failed) | answered 1000/s | p99 3.3 ms | " +
      "pools cpu 0.50 cores rss 400 MB pss 300 MB heap 90 MB/150 MB | generator cpu 0.25 cores rss 120 MB",
  );
});
