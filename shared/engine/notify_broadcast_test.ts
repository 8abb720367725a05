import assert from "node:assert/strict";
import { addressToScriptPubKey, bytesToHex } from "../bitcoin/mod.ts";
import { JobManager } from "./jobs.ts";
import { NotifyBroadcast } from "./notify_broadcast.ts";
import { templateFromGbt } from "./template.ts";
import { testGbt } from "./_test_template.ts";

const SCRIPTS = [
  addressToScriptPubKey("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "regtest"),
  addressToScriptPubKey(
    "bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6",
    "regtest",
  ),
  addressToScriptPubKey("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "regtest"),
  // Longer than 0xfc bytes: its length is a three-byte CompactSize.
  new Uint8Array(300).fill(0x51),
];

function workbase(txCount: number) {
  const jobs = new JobManager({
    extranonce1Size: 4,
    extranonce2Size: 8,
    tag: new TextEncoder().encode("/TheBitcoinGame/"),
    fee: null,
    jobsPerTip: 4,
    retiredJobs: 16,
  });
  return { jobs, wb: jobs.addTemplate(templateFromGbt(testGbt({ txCount }), 0), 0) };
}

Deno.test("NotifyBroadcast lines are notifyLine() encoded, for every script length and flag", () => {
  const decoder = new TextDecoder();
  for (const txCount of [0, 7]) {
    const { jobs, wb } = workbase(txCount);
    for (const cleanJobs of [true, false]) {
      // Small chunks: lines cross into new chunks, and the 300-byte script's line exceeds one.
      for (const chunkBytes of [64, 700, 32 * 1024]) {
        const broadcast = new NotifyBroadcast(wb, cleanJobs, chunkBytes);
        const lines: [Uint8Array, string][] = [];
        for (let round = 0; round < 5; round++) {
          for (const script of SCRIPTS) {
            const key = bytesToHex(script);
            lines.push([
              broadcast.line(script.length, key),
              jobs.notifyLine(wb, key, script, cleanJobs),
            ]);
          }
        }
        // Checked after all were written: a later line never overwrites an earlier one.
        for (const [bytes, expected] of lines) assert.equal(decoder.decode(bytes), expected);
      }
    }
  }
});

Deno.test("NotifyBroadcast shares chunks between miners' lines", () => {
  const { wb } = workbase(0);
  const broadcast = new NotifyBroadcast(wb, true);
  const key = bytesToHex(SCRIPTS[0]!);
  const views = Array.from({ length: 40 }, () => broadcast.line(SCRIPTS[0]!.length, key));
  const chunks = new Set(views.map((v) => v.buffer));
  // A line is a few hundred bytes: 40 of them fit in one or two 32 KiB chunks, not forty buffers.
  assert.ok(chunks.size <= 2, `${chunks.size} buffers for 40 lines`);
  // Each view covers exactly its line.
  for (const v of views) assert.equal(v[v.length - 1], 0x0a);
});
