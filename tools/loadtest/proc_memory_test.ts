import assert from "node:assert/strict";
import { coresBetween, parsePssBytes } from "./proc_memory.ts";

Deno.test("parsePssBytes() reads the Pss line of smaps_rollup in bytes", () => {
  const text = [
    "55d0c0a00000-7ffd5e5fe000 ---p 00000000 00:00 0                          [rollup]",
    "Rss:               90112 kB",
    "Pss:               61234 kB",
    "Pss_Dirty:         40000 kB",
    "Pss_Anon:          35000 kB",
  ].join("\n");
  assert.equal(parsePssBytes(text), 61234 * 1024);
  assert.throws(() => parsePssBytes("Rss: 1 kB"), /no Pss line/);
});

Deno.test("coresBetween() is CPU seconds per wall second", () => {
  const before = { atMs: 0, cpuS: 10, rssBytes: 0, pssBytes: 0, processes: 2 };
  const after = { atMs: 10_000, cpuS: 25, rssBytes: 0, pssBytes: 0, processes: 2 };
  assert.equal(coresBetween(before, after), 1.5);
  assert.equal(coresBetween(before, before), 0);
  assert.equal(coresBetween(before, { ...after, processes: 1 }), null);
});
