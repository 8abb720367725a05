import assert from "node:assert/strict";
import { Block } from "bitcoinjs-lib";
import { blockHashHex, type BlockHeader, parseHeader, serializeHeader } from "./header.ts";
import { bytesToHex, hexToBytes, reverseBytes } from "./hex.ts";
import { bitsToTarget, hashMeetsTarget } from "./target.ts";
import { sha256d } from "./hash.ts";
import block100000 from "./testdata/block_100000.json" with { type: "json" };
import segwitBlocks from "./testdata/segwit_blocks.json" with { type: "json" };

const header100000: BlockHeader = {
  version: block100000.version,
  prevHash: reverseBytes(hexToBytes(block100000.prevHashDisplayHex)),
  merkleRoot: reverseBytes(hexToBytes(block100000.merkleRootDisplayHex)),
  time: block100000.time,
  bits: block100000.bits,
  nonce: block100000.nonce,
};

Deno.test("serializeHeader() reproduces mainnet block 100000's hash", () => {
  const bytes = serializeHeader(header100000);
  assert.equal(bytes.length, 80);
  assert.equal(blockHashHex(bytes), block100000.hashDisplayHex);
  assert.equal(block100000.bits, 0x1b04864c);
  assert.equal(hashMeetsTarget(sha256d(bytes), bitsToTarget(block100000.bits)), true);
});

Deno.test("parseHeader() inverts serializeHeader()", () => {
  const parsed = parseHeader(serializeHeader(header100000));
  assert.deepEqual(parsed, header100000);
});

Deno.test("serializeHeader() writes signed and unsigned versions as the same bytes", () => {
  const signed = serializeHeader({ ...header100000, version: -1 });
  const unsigned = serializeHeader({ ...header100000, version: 0xffff_ffff });
  assert.deepEqual(signed, unsigned);
  assert.equal(bytesToHex(signed.subarray(0, 4)), "ffffffff");
  assert.equal(parseHeader(signed).version, -1);
  const rolled = serializeHeader({ ...header100000, version: 0x3fffe000 });
  assert.equal(bytesToHex(rolled.subarray(0, 4)), "00e0ff3f");
  assert.equal(parseHeader(rolled).version, 0x3fffe000);
});

Deno.test("serializeHeader() rejects out-of-range fields and wrong hash lengths", () => {
  const bad: Partial<BlockHeader>[] = [
    { version: 2 ** 32 },
    { version: -(2 ** 31) - 1 },
    { version: 1.5 },
    { time: -1 },
    { bits: 2 ** 32 },
    { nonce: 0.5 },
    { prevHash: new Uint8Array(31) },
    { merkleRoot: new Uint8Array(33) },
  ];
  for (const patch of bad) {
    assert.throws(() => serializeHeader({ ...header100000, ...patch }), RangeError);
  }
});

Deno.test("parseHeader() and blockHashHex() require exactly 80 bytes", () => {
  assert.throws(() => parseHeader(new Uint8Array(79)), RangeError);
  assert.throws(() => parseHeader(new Uint8Array(81)), RangeError);
  assert.throws(() => blockHashHex(new Uint8Array(81)), RangeError);
});

Deno.test("parseHeader() agrees with bitcoinjs-lib on real segwit-era headers", () => {
  for (const fixture of segwitBlocks.blocks) {
    const raw = hexToBytes(fixture.blockHex);
    const ours = parseHeader(raw.subarray(0, 80));
    const theirs = Block.fromHex(fixture.blockHex);
    assert.equal(ours.version, theirs.version);
    assert.deepEqual(ours.prevHash, new Uint8Array(theirs.prevHash!));
    assert.deepEqual(ours.merkleRoot, new Uint8Array(theirs.merkleRoot!));
    assert.equal(ours.time, theirs.timestamp);
    assert.equal(ours.bits, theirs.bits);
    assert.equal(ours.nonce, theirs.nonce);
    assert.deepEqual(serializeHeader(ours), raw.subarray(0, 80));
    assert.equal(blockHashHex(raw.subarray(0, 80)), fixture.hashDisplayHex);
    assert.equal(blockHashHex(raw.subarray(0, 80)), theirs.getId());
  }
});
