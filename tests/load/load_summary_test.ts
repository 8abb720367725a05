import assert from "node:assert/strict";
import { LoadStats } from "./load_stats.ts";
import { mergeSummaries, notifyAcrossSources } from "./load_summary.ts";
import { notifySource } from "./load_connection.ts";
import { LoadMode } from "./load_options.ts";

function part(
  latenciesUs: number[],
  notify: [string, number][],
  codes: number[],
  source = "",
) {
  const stats = new LoadStats();
  stats.established = latenciesUs.length;
  stats.windowOpen = true;
  for (const [i, us] of latenciesUs.entries()) stats.response(codes[i] ?? 23, false, us);
  for (const [job, at] of notify) stats.notify(job, true, at, source);
  return stats.summary({
    mode: LoadMode.outstanding,
    connectionsTarget: latenciesUs.length,
    windowS: 2,
    offeredPerS: 0,
    readyAtEpochMs: 1000 + latenciesUs.length,
    cpuUserS: 1,
    cpuSystemS: 0.5,
    emitHistogram: true,
    perConnectionResponses: latenciesUs.map(() => 1),
  });
}

Deno.test("mergeSummaries() adds counts and rates and recomputes percentiles from histograms", () => {
  // 90 fast responses in one process, 10 slow ones in the other: p50 is fast, p99 slow.
  const fast = part(Array.from({ length: 90 }, () => 1_000), [], []);
  const slow = part(Array.from({ length: 10 }, () => 50_000), [], [21]);
  const merged = mergeSummaries([fast, slow]);
  assert.equal(merged.processes, 2);
  assert.equal(merged.responses, 100);
  assert.equal(merged.responsesPerS, 50);
  assert.deepEqual(merged.errorsByCode, { "21": 1, "23": 99 });
  assert.equal(merged.latency.count, 100);
  assert.equal(Math.round(merged.latency.p50Ms), 1);
  assert.equal(Math.round(merged.latency.p99Ms), 50);
  assert.equal(merged.cpuUserS, 2);
  assert.equal(merged.readyAtEpochMs, 1090);
  assert.equal(merged.histogram, undefined);
});

Deno.test("mergeSummaries() keeps the earliest first and latest last arrival of each job", () => {
  const a = part([1], [["5", 100], ["5", 130], ["6", 500]], []);
  const b = part([1], [["5", 90], ["5", 110]], []);
  const merged = mergeSummaries([a, b]);
  assert.deepEqual(merged.notify.map((n) => [n.jobId, n.count, n.firstEpochMs, n.spreadMs]), [
    ["5", 4, 90, 40],
    ["6", 1, 500, 0],
  ]);
});

Deno.test("mergeSummaries() keeps each source's arrivals apart; notifyAcrossSources() joins them", () => {
  // Two pool processes both call their new-block job "5"; load process b hears from both.
  const a = part([1], [["5", 100], ["5", 130]], [], "0000");
  const b0 = part([1], [["5", 95]], [], "0000");
  const b1 = part([1], [["5", 105], ["5", 160]], [], "0001");
  const merged = mergeSummaries([a, b0, b1]);
  assert.deepEqual(
    merged.notify.map((n) => [n.source, n.jobId, n.count, n.firstEpochMs, n.lastEpochMs]),
    [["0000", "5", 3, 95, 130], ["0001", "5", 2, 105, 160]],
  );
  const total = notifyAcrossSources(merged.notify, "5");
  assert.deepEqual(
    total && [total.source, total.count, total.firstEpochMs, total.lastEpochMs, total.spreadMs],
    ["", 5, 95, 160, 65],
  );
  assert.equal(notifyAcrossSources(merged.notify, "6"), undefined);
});

Deno.test("notifySource() is the region and instance bytes of extranonce1", () => {
  assert.equal(notifySource("0003a1b2"), "0003");
  assert.equal(notifySource("0A03"), "0a03");
  assert.equal(notifySource("zz03a1b2"), "");
  assert.equal(notifySource(7), "");
});

Deno.test("mergeSummaries() refuses parts whose latency cannot be merged, and no parts", () => {
  const { histogram: _dropped, ...bare } = part([1_000], [], []);
  assert.throws(() => mergeSummaries([bare]), TypeError);
  assert.throws(() => mergeSummaries([]), RangeError);
});

Deno.test("LoadStats counts responses only while the window is open", () => {
  const stats = new LoadStats();
  stats.response(23, false, 10);
  stats.windowOpen = true;
  stats.response(23, false, 10);
  stats.response(0, true, 10);
  stats.windowOpen = false;
  stats.response(23, false, 10);
  assert.equal(stats.responses, 2);
  assert.equal(stats.accepted, 1);
});
