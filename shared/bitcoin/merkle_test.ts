import assert from "node:assert/strict";
import fc from "fast-check";
import { Block } from "bitcoinjs-lib";
import {
  merkleBranchForCoinbase,
  merkleRoot,
  merkleRootFromBranch,
  witnessCommitment,
  witnessCommitmentScript,
} from "./merkle.ts";
import { sha256d } from "./hash.ts";
import { bytesToHex, hexToBytes, reverseBytes } from "./hex.ts";
import { parseHeader } from "./header.ts";
import { bitsToTarget, hashMeetsTarget } from "./target.ts";
import { decodeBip34Height } from "./script_num.ts";
import block100000 from "./testdata/block_100000.json" with { type: "json" };
import segwitBlocks from "./testdata/segwit_blocks.json" with { type: "json" };

const fromDisplay = (hex: string): Uint8Array => reverseBytes(hexToBytes(hex));
const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};
const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

Deno.test("merkleRoot() of block 100000's txids is its header's merkle root", () => {
  const txids = block100000.txidsDisplayHex.map(fromDisplay);
  assert.equal(
    bytesToHex(reverseBytes(merkleRoot(txids))),
    block100000.merkleRootDisplayHex,
  );
});

Deno.test("merkleBranchForCoinbase() gives block 100000's Stratum branch", () => {
  const [coinbase, ...rest] = block100000.txidsDisplayHex.map(fromDisplay);
  const branch = merkleBranchForCoinbase(rest);
  assert.deepEqual(branch, [rest[0], sha256d(concat(rest[1]!, rest[2]!))]);
  assert.equal(
    bytesToHex(reverseBytes(merkleRootFromBranch(coinbase!, branch))),
    block100000.merkleRootDisplayHex,
  );
});

Deno.test("merkleRoot() pairs an odd last node with itself", () => {
  const [a, b, c] = [
    new Uint8Array(32).fill(1),
    new Uint8Array(32).fill(2),
    new Uint8Array(32).fill(3),
  ];
  const expected = sha256d(concat(sha256d(concat(a, b)), sha256d(concat(c, c))));
  assert.deepEqual(merkleRoot([a, b, c]), expected);
  assert.deepEqual(merkleRoot([a]), a);
  assert.notEqual(merkleRoot([a]), a, "single-leaf root is a copy");
});

Deno.test("merkleRootFromBranch() equals merkleRoot() for every tree size", () => {
  fc.assert(
    fc.property(fc.array(hash32, { minLength: 1, maxLength: 300 }), (leaves) => {
      const [coinbase, ...rest] = leaves;
      const branch = merkleBranchForCoinbase(rest);
      assert.equal(branch.length, Math.ceil(Math.log2(leaves.length)));
      assert.deepEqual(merkleRootFromBranch(coinbase!, branch), merkleRoot(leaves));
    }),
    { numRuns: 300 },
  );
});

Deno.test("merkle functions reject empty input and hashes that are not 32 bytes", () => {
  assert.throws(() => merkleRoot([]), RangeError);
  assert.throws(() => merkleRoot([new Uint8Array(31)]), RangeError);
  assert.throws(
    () => merkleBranchForCoinbase([new Uint8Array(32), new Uint8Array(33)]),
    RangeError,
  );
  assert.throws(() => merkleRootFromBranch(new Uint8Array(31), []), RangeError);
  assert.throws(() => merkleRootFromBranch(new Uint8Array(32), [new Uint8Array(1)]), RangeError);
  assert.throws(() => witnessCommitment([], new Uint8Array(31)), RangeError);
});

Deno.test("witnessCommitmentScript() of a coinbase-only block is the well-known empty commitment", () => {
  assert.equal(
    bytesToHex(witnessCommitmentScript([])),
    "6a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9",
  );
});

for (const fixture of segwitBlocks.blocks) {
  Deno.test(`witnessCommitmentScript() reproduces the coinbase commitment of ${fixture.network} block ${fixture.height}`, () => {
    const raw = hexToBytes(fixture.blockHex);
    const block = Block.fromHex(fixture.blockHex);
    const header = parseHeader(raw.subarray(0, 80));
    // Proof of work shows the fixture is a real block, not a transcription.
    assert.equal(hashMeetsTarget(sha256d(raw.subarray(0, 80)), bitsToTarget(header.bits)), true);

    const txs = block.transactions!;
    const txids = txs.map((tx) => new Uint8Array(tx.getHash()));
    const wtxids = txs.map((tx) => new Uint8Array(tx.getHash(true)));
    assert.ok(txids.some((txid, i) => i > 0 && bytesToHex(txid) !== bytesToHex(wtxids[i]!)));
    assert.deepEqual(merkleRoot(txids), header.merkleRoot);
    assert.deepEqual(
      merkleRootFromBranch(txids[0]!, merkleBranchForCoinbase(txids.slice(1))),
      header.merkleRoot,
    );

    const coinbase = txs[0]!;
    assert.equal(decodeBip34Height(new Uint8Array(coinbase.ins[0]!.script)), fixture.height);
    const reserved = new Uint8Array(coinbase.ins[0]!.witness[0]!);
    const commitmentOutputs = coinbase.outs
      .map((out) => bytesToHex(new Uint8Array(out.script)))
      .filter((script) => script.startsWith("6a24aa21a9ed"));
    assert.equal(commitmentOutputs.length, 1);
    assert.equal(
      bytesToHex(witnessCommitmentScript(wtxids.slice(1), reserved)),
      commitmentOutputs[0],
    );
    assert.equal(bytesToHex(witnessCommitmentScript(wtxids.slice(1))), commitmentOutputs[0]);
    assert.deepEqual(new Uint8Array(block.getWitnessCommit()!), witnessCommitment(wtxids.slice(1)));
  });
}
