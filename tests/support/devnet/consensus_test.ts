import assert from "node:assert/strict";
import {
  bitsToDifficulty,
  bitsToTarget,
  decodeCompact,
  REGTEST_POW_LIMIT,
  subsidyAt,
  targetToWork,
} from "./consensus.ts";

Deno.test("decodeCompact() matches Core's SetCompact on known values", () => {
  assert.equal(decodeCompact(0x1d00ffff).target, 0xffffn << 208n);
  assert.equal(REGTEST_POW_LIMIT, 0x7fffffn << 232n);
  assert.equal(decodeCompact(0x01003456).target, 0n);
  assert.equal(decodeCompact(0x01123456).target, 0x12n);
  assert.equal(decodeCompact(0x04923456).negative, true);
  assert.equal(decodeCompact(0xff123456).overflow, true);
});

Deno.test("bitsToTarget() rejects negative, zero and overflowing bits", () => {
  assert.throws(() => bitsToTarget(0x04923456), RangeError);
  assert.throws(() => bitsToTarget(0x00000000), RangeError);
  assert.throws(() => bitsToTarget(0xff123456), RangeError);
});

Deno.test("targetToWork() gives regtest genesis work 2, like Core's chainwork", () => {
  assert.equal(targetToWork(REGTEST_POW_LIMIT), 2n);
  assert.equal(targetToWork(bitsToTarget(0x1d00ffff)), 0x100010001n);
});

Deno.test("bitsToDifficulty() prints what Core prints", () => {
  assert.equal(bitsToDifficulty(0x1d00ffff), 1);
  assert.equal(bitsToDifficulty(0x207fffff), 4.656542373906925e-10);
});

Deno.test("subsidyAt() halves every 150 blocks on regtest", () => {
  assert.equal(subsidyAt(0), 5_000_000_000n);
  assert.equal(subsidyAt(149), 5_000_000_000n);
  assert.equal(subsidyAt(150), 2_500_000_000n);
  assert.equal(subsidyAt(300), 1_250_000_000n);
  assert.equal(subsidyAt(150 * 64), 0n);
});
