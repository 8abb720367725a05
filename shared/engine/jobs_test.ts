import assert from "node:assert/strict";
import { addressToScriptPubKey, bytesToHex, hexToBytes } from "../bitcoin/mod.ts";
import { encodeNotify } from "../stratum/mod.ts";
import { buildCoinbaseParts } from "./coinbase.ts";
import { JobManager } from "./jobs.ts";
import { templateFromGbt } from "./template.ts";
import { testGbt } from "./_test_template.ts";

const ADDRESSES = [
  "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
  "bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6",
  "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",
];
const TAG = new TextEncoder().encode("/TheBitcoinGame/");

function manager(fee: { script: Uint8Array; percent: number } | null): JobManager {
  return new JobManager({
    extranonce1Size: 4,
    extranonce2Size: 8,
    tag: TAG,
    fee,
    jobsPerTip: 4,
    retiredJobs: 16,
  });
}

Deno.test("notifyLine() is encodeNotify() of the miner's own coinbase halves", () => {
  const feeScript = addressToScriptPubKey(ADDRESSES[1]!, "regtest");
  for (const fee of [null, { script: feeScript, percent: 2 }]) {
    for (const txCount of [0, 5]) {
      const jobs = manager(fee);
      const wb = jobs.addTemplate(templateFromGbt(testGbt({ txCount, height: 840_000 }), 0), 0);
      for (const address of ADDRESSES) {
        const script = addressToScriptPubKey(address, "regtest");
        const parts = buildCoinbaseParts({
          height: 840_000,
          coinbaseValueSats: wb.template.coinbaseValueSats,
          witnessCommitment: wb.template.witnessCommitment,
          tag: TAG,
          extranonceSize: 12,
          payoutScript: script,
          fee,
        });
        for (const cleanJobs of [true, false]) {
          const expected = encodeNotify({
            jobId: wb.id,
            prevHash: wb.prevHashStratum,
            coinb1: parts.coinb1Hex,
            coinb2: parts.coinb2Hex,
            merkleBranch: wb.merkleBranchHex,
            version: wb.versionHex,
            nbits: wb.nbitsHex,
            ntime: wb.ntimeHex,
            cleanJobs,
          });
          assert.equal(jobs.notifyLine(wb, bytesToHex(script), script, cleanJobs), expected);
          const fromManager = jobs.coinbaseFor(wb, bytesToHex(script), script);
          assert.equal(fromManager.coinb1Hex, parts.coinb1Hex);
          assert.equal(fromManager.coinb2Hex, parts.coinb2Hex);
        }
      }
    }
  }
});

Deno.test("notifyLine() writes a multi-byte CompactSize for a payout script of 253 bytes or more", () => {
  const jobs = manager(null);
  const wb = jobs.addTemplate(templateFromGbt(testGbt(), 0), 0);
  const script = new Uint8Array(300).fill(0x51);
  const line = jobs.notifyLine(wb, bytesToHex(script), script, true);
  const coinb2 = JSON.parse(line).params[3] as string;
  assert.equal(coinb2, jobs.coinbaseFor(wb, bytesToHex(script), script).coinb2Hex);
  assert.ok(coinb2.includes("fd2c01" + "51".repeat(300)));
  assert.deepEqual(hexToBytes(coinb2).length, jobs.coinbaseFor(wb, "", script).coinb2.length);
});

Deno.test("JobManager.lookup() answers with the same object for the same job (no allocation)", () => {
  const jobs = manager(null);
  const a = jobs.addTemplate(templateFromGbt(testGbt(), 0), 0);
  assert.equal(jobs.lookup(a.id), jobs.lookup(a.id));
  jobs.addTemplate(templateFromGbt(testGbt({ prevHash: "11".repeat(32), height: 2 }), 0), 1);
  const stale = jobs.lookup(a.id);
  assert.equal(stale.state, "stale");
  assert.equal(stale.state === "stale" ? stale.workbase : null, a);
  assert.equal(jobs.lookup("ffff").state, "unknown");
});
