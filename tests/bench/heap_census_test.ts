import assert from "node:assert/strict";
import { censusBytes, censusGrowth, heapCensus } from "./heap_census.ts";

/** A snapshot of `nodes` given as [type, name, self size], in V8's layout. */
function snapshotText(nodes: [string, string, number][]): string {
  const types = ["hidden", "object", "closure", "string", "number"];
  const strings: string[] = [];
  const flat: number[] = [];
  for (const [type, name, size] of nodes) {
    strings.push(name);
    flat.push(types.indexOf(type), strings.length - 1, flat.length, size, 0);
  }
  return JSON.stringify({
    snapshot: {
      meta: { node_fields: ["type", "name", "id", "self_size", "edge_count"], node_types: [types] },
    },
    nodes: flat,
    strings,
  });
}

Deno.test("heapCensus groups objects by constructor and strings by type", () => {
  const census = heapCensus(snapshotText([
    ["object", "Session", 224],
    ["object", "Session", 224],
    ["closure", "onLine", 32],
    ["string", "abc", 20],
    ["string", "something else", 32],
  ]));
  assert.deepEqual(census.get("object: Session"), { count: 2, bytes: 448 });
  assert.deepEqual(census.get("closure: onLine"), { count: 1, bytes: 32 });
  assert.deepEqual(census.get("string"), { count: 2, bytes: 52 });
  assert.deepEqual(censusBytes(census), 532);
});

Deno.test("censusGrowth divides growth by units, largest first, kinds that vanished included", () => {
  const before = heapCensus(snapshotText([["object", "Gone", 100], ["object", "Session", 224]]));
  const after = heapCensus(snapshotText([
    ["object", "Session", 224],
    ["object", "Session", 224],
    ["object", "Session", 224],
    ["closure", "onLine", 32],
    ["closure", "onLine", 32],
  ]));
  assert.deepEqual(censusGrowth(before, after, 2), [
    { kind: "object: Session", countPerUnit: 1, bytesPerUnit: 224 },
    { kind: "closure: onLine", countPerUnit: 1, bytesPerUnit: 32 },
    { kind: "object: Gone", countPerUnit: -0.5, bytesPerUnit: -50 },
  ]);
});
