import assert from "node:assert/strict";
import * as bitcoin from "bitcoinjs-lib";
import {
  addressToScriptPubKey,
  bytesToHex,
  decodeBip34Height,
  hexToBytes,
} from "../bitcoin/mod.ts";
import { assembleBlockHex } from "./block.ts";
import { JobManager, type Workbase } from "./jobs.ts";
import { nodeClockSec, type ShareInput, validateShare } from "./share.ts";
import { templateFromGbt } from "./template.ts";
import { testGbt } from "./_test_template.ts";

const P2WPKH = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
const P2TR = "bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6";
const EN1 = hexToBytes("deadbeef");

function manager(fee: { script: Uint8Array; percent: number } | null = null): JobManager {
  return new JobManager({
    extranonce1Size: 4,
    extranonce2Size: 8,
    tag: new TextEncoder().encode("/TheBitcoinGame/"),
    fee,
    jobsPerTip: 4,
    retiredJobs: 16,
  });
}

function input(wb: Workbase, over: Partial<ShareInput> = {}): ShareInput {
  const script = addressToScriptPubKey(P2WPKH, "regtest");
  return {
    workbase: wb,
    stale: false,
    payoutScript: script,
    extranonce1: EN1,
    extranonce2Hex: "0000000000000001",
    ntime: wb.ntime,
    nonce: 0,
    versionBits: null,
    versionMask: 0,
    difficulty: 1e-9,
    previousDifficulty: null,
    nowSec: wb.ntime,
    ...over,
  };
}

/** Tries nonces until the verdict satisfies `want` (bounded). */
function findNonce(
  base: ShareInput,
  want: (v: ReturnType<typeof validateShare>) => boolean,
): number {
  for (let nonce = 0; nonce < 10_000; nonce++) {
    const copy = {
      ...base,
      nonce,
      workbase: { ...base.workbase, acceptedHashes: new Set<string>() },
    };
    if (want(validateShare(copy))) return nonce;
  }
  throw new Error("no nonce found within bound");
}

Deno.test("coinbase halves pay the miner's script, carry the BIP34 height, tag and witness commitment", () => {
  const jobs = manager();
  const wb = jobs.addTemplate(templateFromGbt(testGbt({ height: 840_000 }), 0), 0);
  const script = addressToScriptPubKey(P2TR, "regtest");
  const parts = jobs.coinbaseFor(wb, bytesToHex(script), script);
  const raw = new Uint8Array([...parts.coinb1, ...EN1, ...new Uint8Array(8), ...parts.coinb2]);
  const tx = bitcoin.Transaction.fromBuffer(raw);
  assert.ok(tx.isCoinbase());
  assert.equal(decodeBip34Height(tx.ins[0]!.script), 840_000);
  assert.ok(
    bytesToHex(tx.ins[0]!.script).includes(
      bytesToHex(new TextEncoder().encode("/TheBitcoinGame/")),
    ),
  );
  assert.equal(bytesToHex(tx.outs[0]!.script), bytesToHex(script));
  assert.equal(tx.outs[0]!.value, BigInt(wb.template.coinbaseValueSats));
  assert.equal(bytesToHex(tx.outs[1]!.script), bytesToHex(wb.template.witnessCommitment!));
  assert.equal(tx.outs[1]!.value, 0n);
});

Deno.test("coinbase halves split an operator fee when donation is configured", () => {
  const feeScript = addressToScriptPubKey(P2TR, "regtest");
  const jobs = manager({ script: feeScript, percent: 1.5 });
  const wb = jobs.addTemplate(templateFromGbt(testGbt(), 0), 0);
  const script = addressToScriptPubKey(P2WPKH, "regtest");
  const parts = jobs.coinbaseFor(wb, bytesToHex(script), script);
  const tx = bitcoin.Transaction.fromBuffer(
    new Uint8Array([...parts.coinb1, ...new Uint8Array(12), ...parts.coinb2]),
  );
  const total = wb.template.coinbaseValueSats;
  assert.equal(tx.outs[1]!.value, (total * 150n) / 10_000n);
  assert.equal(tx.outs[0]!.value + tx.outs[1]!.value, total);
  assert.equal(bytesToHex(tx.outs[1]!.script), bytesToHex(feeScript));
});

Deno.test("validateShare() accepts a share at the session difficulty and refuses its duplicate", () => {
  const jobs = manager();
  const wb = jobs.addTemplate(templateFromGbt(testGbt({ bits: "1d00ffff" }), 0), 0);
  const nonce = findNonce(input(wb), (v) => v.accepted);
  const first = validateShare(input(wb, { nonce }));
  assert.equal(first.accepted, true);
  const again = validateShare(input(wb, { nonce }));
  assert.deepEqual([
    again.accepted,
    !again.accepted && again.code,
    !again.accepted && again.message,
  ], [
    false,
    22,
    "Duplicate share",
  ]);
});

Deno.test("validateShare() refuses a low-difficulty share with code 23 and honours the previous difficulty", () => {
  const jobs = manager();
  const wb = jobs.addTemplate(templateFromGbt(testGbt({ bits: "1d00ffff" }), 0), 0);
  const nonce = findNonce(input(wb), (v) => v.accepted);
  const low = validateShare(input(wb, { difficulty: 1e6, nonce }));
  assert.equal(low.accepted, false);
  assert.equal(!low.accepted && low.code, 23);
  assert.match(!low.accepted ? low.message : "", /^Low difficulty share \(/);
  const grace = validateShare(
    input(wb, { difficulty: 1e6, previousDifficulty: 1e-9, nonce }),
  );
  assert.equal(grace.accepted, true);
});

Deno.test("validateShare() refuses stale work with code 21", () => {
  const jobs = manager();
  const wb = jobs.addTemplate(templateFromGbt(testGbt({ bits: "1d00ffff" }), 0), 0);
  const v = validateShare(input(wb, { stale: true }));
  assert.deepEqual([v.accepted, !v.accepted && v.code, !v.accepted && v.message], [
    false,
    21,
    "Stale job",
  ]);
});

Deno.test("validateShare() refuses ntime before mintime or too far ahead", () => {
  const jobs = manager();
  const wb = jobs.addTemplate(templateFromGbt(testGbt(), 0), 0);
  for (const ntime of [wb.template.mintime - 1, wb.ntime + 7001]) {
    const v = validateShare(input(wb, { ntime }));
    assert.deepEqual([v.accepted, !v.accepted && v.reason, !v.accepted && v.message], [
      false,
      "bad_ntime",
      "ntime out of range",
    ]);
  }
});

Deno.test("nodeClockSec() follows the template's curtime, whatever this host's clock says", () => {
  for (const skewS of [3_600, -3_600, 0]) {
    const jobs = manager();
    const template = templateFromGbt(testGbt(), 0);
    const madeAtMs = (template.curtime + skewS) * 1000 + 250;
    const wb = jobs.addTemplate(template, madeAtMs);
    const nowSec = nodeClockSec(wb, madeAtMs + 10_900);
    assert.equal(nowSec, template.curtime + 10, `host ${skewS} s off`);
    const badNtime = [wb.ntime, nowSec + 7000, nowSec + 7001].map((ntime) => {
      const verdict = validateShare(input(wb, { ntime, nowSec }));
      return !verdict.accepted && verdict.reason === "bad_ntime";
    });
    assert.deepEqual(badNtime, [false, false, true], `host ${skewS} s off`);
  }
});

Deno.test("validateShare() checks version bits against the negotiated mask", () => {
  const jobs = manager();
  const wb = jobs.addTemplate(templateFromGbt(testGbt({ bits: "1d00ffff" }), 0), 0);
  const unnegotiated = validateShare(input(wb, { versionBits: 0x00002000 }));
  assert.equal(
    !unnegotiated.accepted && unnegotiated.message,
    "Version rolling was not negotiated (mining.configure)",
  );
  const outside = validateShare(
    input(wb, { versionBits: 0x00001000, versionMask: 0x1fffe000 }),
  );
  assert.equal(!outside.accepted && outside.message, "Version bits outside the negotiated mask");
  const rolled = input(wb, { versionBits: 0x00006000, versionMask: 0x1fffe000 });
  const inside = validateShare({ ...rolled, nonce: findNonce(rolled, (v) => v.accepted) });
  assert.equal(inside.accepted, true);
  assert.equal(inside.accepted && inside.version, (0x20000000 | 0x00006000) >>> 0);
});

Deno.test("a share meeting the network target yields a block that bitcoinjs-lib parses with the same id and valid roots", () => {
  const jobs = manager();
  const wb = jobs.addTemplate(templateFromGbt(testGbt({ txCount: 5, height: 1 }), 0), 0);
  const base = input(wb, { versionBits: 0x00004000, versionMask: 0x1fffe000 });
  const nonce = findNonce(base, (v) => v.block !== null);
  const verdict = validateShare({ ...base, nonce });
  assert.ok(verdict.block !== null);
  const hex = assembleBlockHex(verdict.block, wb.template);
  const block = bitcoin.Block.fromHex(hex);
  assert.equal(block.getId(), verdict.block.hashHex);
  assert.equal(block.transactions!.length, 6);
  assert.ok(block.checkTxRoots(), "merkle root and witness commitment must match");
  assert.ok(block.checkProofOfWork());
});

Deno.test("a block is reported even when the share is stale or below the session difficulty", () => {
  const jobs = manager();
  const wb = jobs.addTemplate(templateFromGbt(testGbt(), 0), 0);
  const base = input(wb, { stale: true, difficulty: 1e12 });
  const nonce = findNonce(base, (v) => v.block !== null);
  const v = validateShare({ ...base, nonce });
  assert.equal(v.accepted, false);
  assert.notEqual(v.block, null);
});

Deno.test("JobManager marks a new tip clean and earlier jobs stale, a refresh not clean", () => {
  const jobs = manager();
  const a = jobs.addTemplate(templateFromGbt(testGbt(), 0), 0);
  assert.equal(a.cleanJobs, true);
  const b = jobs.addTemplate(templateFromGbt(testGbt({ curtime: 1_700_000_700 }), 0), 1);
  assert.equal(b.cleanJobs, false);
  assert.equal(jobs.lookup(a.id).state, "current");
  const c = jobs.addTemplate(
    templateFromGbt(testGbt({ prevHash: "11".repeat(32), height: 2 }), 0),
    2,
  );
  assert.equal(c.cleanJobs, true);
  assert.equal(jobs.lookup(a.id).state, "stale");
  assert.equal(jobs.lookup(b.id).state, "stale");
  assert.equal(jobs.lookup(c.id).state, "current");
  assert.equal(jobs.lookup("ffffff").state, "unknown");
});

Deno.test("JobManager keeps only jobsPerTip refreshes live", () => {
  const jobs = manager();
  const ids = [];
  for (let i = 0; i < 6; i++) {
    ids.push(jobs.addTemplate(templateFromGbt(testGbt({ curtime: 1_700_000_600 + i }), 0), i).id);
  }
  assert.equal(jobs.liveCount, 4);
  assert.equal(jobs.lookup(ids[0]!).state, "stale");
  assert.equal(jobs.lookup(ids[5]!).state, "current");
});

Deno.test("validateShare() hashes the miner's coinbase: coinb1, extranonces, coinb2 with its payout", () => {
  const jobs = manager({ script: addressToScriptPubKey(P2TR, "regtest"), percent: 1 });
  const wb = jobs.addTemplate(templateFromGbt(testGbt({ txCount: 3, height: 7 }), 0), 0);
  const base = input(wb, { extranonce2Hex: "0123456789ABCDEF" });
  const nonce = findNonce(base, (v) => v.block !== null);
  const verdict = validateShare({ ...base, nonce });
  const script = addressToScriptPubKey(P2WPKH, "regtest");
  const parts = jobs.coinbaseFor(wb, bytesToHex(script), script);
  assert.equal(
    bytesToHex(verdict.block!.coinbase),
    parts.coinb1Hex + bytesToHex(EN1) + "0123456789abcdef" + parts.coinb2Hex,
  );
  // The scratch buffers are reused: a later share must not change the candidate's bytes.
  const header = bytesToHex(verdict.block!.header);
  validateShare({ ...base, nonce: nonce + 1, extranonce2Hex: "ffffffffffffffff" });
  assert.equal(bytesToHex(verdict.block!.header), header);
});
