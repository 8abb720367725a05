import assert from "node:assert/strict";
import { parseProcStat, parseSmapsRollup, parseStartTicks, parseVmRssBytes } from "./proc_stats.ts";

Deno.test("parseProcStat() counts fields from the last parenthesis of the command name", () => {
  const text = "4242 (deno (main) x) S 4100 4242 4100 0 -1 4194560 1200 0 3 0 1523 287 0 0 20 0 " +
    "9 0 5000 18386124 56789 18446744073709551615 1 1 0 0 0 0 0 4096 17922 0 0 0 17 1 0 0 0 0 0";
  assert.deepEqual(parseProcStat(text), { ppid: 4100, utimeTicks: 1523, stimeTicks: 287 });
});

Deno.test("parseProcStat() refuses text without a command name", () => {
  assert.throws(() => parseProcStat("4242 deno S 1"), SyntaxError);
});

Deno.test("parseVmRssBytes() reads the VmRSS line in kB as bytes", () => {
  const status = "Name:\tdeno\nVmPeak:\t  900000 kB\nVmRSS:\t  123456 kB\nRssAnon:\t 100 kB\n";
  assert.equal(parseVmRssBytes(status), 123456 * 1024);
});

Deno.test("parseVmRssBytes() refuses a status without VmRSS (a zombie has none)", () => {
  assert.throws(() => parseVmRssBytes("Name:\tdeno\nState:\tZ (zombie)\n"), SyntaxError);
});

Deno.test("parseStartTicks() reads field 22 after the command name", () => {
  const text = "4242 (deno (main) x) S 4100 4242 4100 0 -1 4194560 1200 0 3 0 1523 287 0 0 20 0 " +
    "9 0 5000 18386124 56789 18446744073709551615 1 1 0 0 0 0 0 4096 17922 0 0 0 17 1 0 0 0 0 0";
  assert.equal(parseStartTicks(text), 5000);
  assert.throws(() => parseStartTicks("4242 (deno) S 1"), SyntaxError);
});

Deno.test("parseSmapsRollup() reads every kB field as bytes and needs a Pss line", () => {
  const text = "55e32d395000-7ffd57b17000 ---p 00000000 00:00 0    [rollup]\n" +
    "Rss:                1708 kB\nPss:                 188 kB\nPss_Anon:            116 kB\n" +
    "Anonymous:           116 kB\nSwap:                  0 kB\n";
  const fields = parseSmapsRollup(text);
  assert.equal(fields.Rss, 1708 * 1024);
  assert.equal(fields.Pss, 188 * 1024);
  assert.equal(fields.Anonymous, 116 * 1024);
  assert.equal(fields.Swap, 0);
  assert.throws(() => parseSmapsRollup("Rss: 1 kB\n"), SyntaxError);
});
