import assert from "node:assert/strict";
import { type CpuProfile, selfTimeByFunction } from "./cpu_profile.ts";

const frame = (functionName: string, url = "", lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
});

const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)") },
    { id: 2, callFrame: frame("validateShare", "file:///work/main/shared/engine/share.ts", 84) },
    { id: 3, callFrame: frame("(garbage collector)") },
    // The same function reached through another caller is a second node.
    { id: 4, callFrame: frame("validateShare", "file:///work/main/shared/engine/share.ts", 84) },
  ],
  samples: [2, 3, 4, 2],
  // The first delta is the gap before the first sample; each sample owns the next delta (the
  // last sample has none and counts nothing).
  timeDeltas: [5, 1000, 500, 2000],
};

Deno.test("selfTimeByFunction() charges each sample the following delta and merges nodes", () => {
  const rows = selfTimeByFunction(PROFILE, 10);
  assert.deepEqual(rows.map((r) => [r.function, r.selfMs]), [
    ["validateShare (shared/engine/share.ts)", 3],
    ["(garbage collector)", 0.5],
  ]);
  assert.equal(Math.round(rows[0]!.percent), 86);
});

Deno.test("selfTimeByFunction() keeps only the top rows", () => {
  assert.equal(selfTimeByFunction(PROFILE, 1).length, 1);
});
