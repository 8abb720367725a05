import assert from "node:assert/strict";
import { parseGcTraceLine, summarizeGc } from "./gc_trace.ts";

const line = (atMs: number, gc: string, pause: number, allocated: number) =>
  `[7110:0x561f17e27000:0]    ${atMs} ms: GC: {"pause":${pause},"mutator":92.18,"gc":"${gc}",` +
  `"allocated":${allocated},"promoted":0}`;

Deno.test("parseGcTraceLine() reads kind, pause and allocation of a --trace-gc-nvp line", () => {
  assert.deepEqual(parseGcTraceLine(line(94, "s", 0.929, 4390680)), {
    atMs: 94,
    kind: "s",
    pauseMs: 0.929,
    allocatedBytes: 4390680,
  });
  assert.equal(parseGcTraceLine('{"level":"info","msg":"pool ready"}'), null);
  assert.equal(parseGcTraceLine(line(94, "s", 1, 2).slice(0, 60)), null);
});

Deno.test("summarizeGc() counts only the window and sorts pauses for the median", () => {
  const events = [
    line(100, "s", 9, 1000),
    line(2000, "s", 3, 2000),
    line(3000, "mc", 7, 3000),
    line(4000, "s", 1, 4000),
    line(9000, "s", 50, 5000),
  ].map((l) => parseGcTraceLine(l)!);
  assert.deepEqual(summarizeGc(events, 1000, 5000), {
    collections: 3,
    minor: 2,
    pauseSumMs: 11,
    pauseMedianMs: 3,
    pauseMaxMs: 7,
    allocatedBytes: 9000,
  });
});
