import assert from "node:assert/strict";
import fc from "fast-check";
import {
  bitsToTarget,
  DIFF1_TARGET,
  difficultyToTarget,
  hashDifficulty,
  hashMeetsDifficulty,
  hashMeetsTarget,
  hashToBigInt,
  targetToBits,
  targetToDifficulty,
} from "./target.ts";
import { hexToBytes, reverseBytes } from "./hex.ts";

const MAX_TARGET = (1n << 256n) - 1n;

/** 32-byte little-endian (internal order) encoding of a value. */
function hashOf(value: bigint): Uint8Array {
  return reverseBytes(hexToBytes(value.toString(16).padStart(64, "0")));
}

/** Hashes with a random number of leading (most significant) zero bytes. */
const arbitraryHash = fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(31))
  .map(([bytes, zeros]) => {
    bytes.fill(0, 32 - zeros);
    return bytes;
  });

Deno.test("bitsToTarget() decodes genesis, block 100000 and regtest nBits", () => {
  assert.equal(bitsToTarget(0x1d00ffff), DIFF1_TARGET);
  assert.equal(bitsToTarget(0x1b04864c), 0x04864cn << 192n);
  assert.equal(bitsToTarget(0x207fffff), 0x7fffffn << 232n);
});

Deno.test("bitsToTarget() and targetToBits() match Core's SetCompact/GetCompact cases", () => {
  const cases: [number, bigint, number][] = [
    [0x00000000, 0n, 0],
    [0x00123456, 0n, 0],
    [0x01003456, 0n, 0],
    [0x02000056, 0n, 0],
    [0x03000000, 0n, 0],
    [0x04000000, 0n, 0],
    [0x00923456, 0n, 0],
    [0x01803456, 0n, 0],
    [0x02800056, 0n, 0],
    [0x03800000, 0n, 0],
    [0x04800000, 0n, 0],
    [0x01123456, 0x12n, 0x01120000],
    [0x02123456, 0x1234n, 0x02123400],
    [0x03123456, 0x123456n, 0x03123456],
    [0x04123456, 0x12345600n, 0x04123456],
    [0x05009234, 0x92340000n, 0x05009234],
    [0x20123456, 0x123456n << 232n, 0x20123456],
  ];
  for (const [bits, target, canonicalBits] of cases) {
    assert.equal(bitsToTarget(bits), target, `bits 0x${bits.toString(16)}`);
    assert.equal(targetToBits(target), canonicalBits, `target 0x${target.toString(16)}`);
  }
  assert.equal(targetToBits(0x80n), 0x02008000);
  assert.equal(targetToBits(MAX_TARGET), 0x2100ffff);
});

Deno.test("bitsToTarget() rejects negative and overflowing nBits", () => {
  for (const bits of [0x01fedcba, 0x04923456, 0x1d80ffff]) {
    assert.throws(() => bitsToTarget(bits), { name: "RangeError", message: /negative/ });
  }
  for (const bits of [0xff123456, 0x22000100, 0x21010000, 0x23000001]) {
    assert.throws(() => bitsToTarget(bits), { name: "RangeError", message: /overflows/ });
  }
  for (const bits of [-1, 2 ** 32, 1.5]) assert.throws(() => bitsToTarget(bits), RangeError);
  assert.equal(bitsToTarget(0x22000001), 1n << 248n, "largest exponent a 1-byte mantissa allows");
});

Deno.test("targetToBits() rejects targets outside 0..2^256-1", () => {
  assert.throws(() => targetToBits(-1n), RangeError);
  assert.throws(() => targetToBits(1n << 256n), RangeError);
});

Deno.test("targetToBits() round-trips through bitsToTarget() for canonical nBits", () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: MAX_TARGET }), (target) => {
    const bits = targetToBits(target);
    const rounded = bitsToTarget(bits);
    assert.equal(targetToBits(rounded), bits);
    assert.ok(rounded <= target, "compact encoding only drops low bits");
  }));
});

Deno.test("targetToDifficulty() gives 1 for genesis and ~14484.16 for block 100000", () => {
  assert.equal(targetToDifficulty(bitsToTarget(0x1d00ffff)), 1);
  assert.ok(Math.abs(targetToDifficulty(bitsToTarget(0x1b04864c)) - 14484.1623612254) < 1e-9);
  assert.ok(Math.abs(targetToDifficulty(bitsToTarget(0x207fffff)) - 4.656542373906925e-10) < 1e-24);
  assert.equal(targetToDifficulty(0n), Infinity);
  assert.throws(() => targetToDifficulty(-1n), RangeError);
});

Deno.test("difficultyToTarget() is exact floor(DIFF1 / difficulty)", () => {
  assert.equal(difficultyToTarget(1), DIFF1_TARGET);
  assert.equal(difficultyToTarget(2), DIFF1_TARGET / 2n);
  assert.equal(difficultyToTarget(1024), DIFF1_TARGET / 1024n);
  assert.equal(difficultyToTarget(0.5), DIFF1_TARGET * 2n);
  assert.equal(difficultyToTarget(3), DIFF1_TARGET / 3n);
  assert.equal(difficultyToTarget(65535 * 2 ** 208), 1n);
  assert.equal(difficultyToTarget(2 ** 300), 0n);
});

Deno.test("difficultyToTarget() allows fractional difficulty above DIFF1 and caps at 2^256-1", () => {
  const target = difficultyToTarget(0.0001);
  assert.ok(target > DIFF1_TARGET);
  // 0.0001 is not exact in binary, so the target is 10000 × DIFF1 to ~16 digits.
  const ratio = Number(target * 10n ** 12n / (DIFF1_TARGET * 10000n)) / 1e12;
  assert.ok(Math.abs(ratio - 1) < 1e-12, `ratio ${ratio}`);
  assert.ok(Math.abs(targetToDifficulty(target) - 0.0001) < 1e-18);
  assert.equal(difficultyToTarget(1e-70), MAX_TARGET);
  assert.equal(difficultyToTarget(Number.MIN_VALUE), MAX_TARGET);
});

Deno.test("difficultyToTarget() rejects zero, negative and non-finite difficulty", () => {
  for (const bad of [0, -0, -1, Number.NaN, Infinity, -Infinity]) {
    assert.throws(() => difficultyToTarget(bad), RangeError, `difficulty ${bad}`);
  }
});

Deno.test("difficultyToTarget() and targetToDifficulty() round-trip", () => {
  fc.assert(fc.property(
    fc.double({ min: 1e-9, max: 1e15, noNaN: true, noDefaultInfinity: true }),
    (difficulty) => {
      const back = targetToDifficulty(difficultyToTarget(difficulty));
      assert.ok(Math.abs(back / difficulty - 1) < 1e-14, `${difficulty} → ${back}`);
    },
  ));
});

Deno.test("hashToBigInt() reads internal order as little-endian", () => {
  const hash = new Uint8Array(32);
  hash[0] = 1;
  assert.equal(hashToBigInt(hash), 1n);
  hash[31] = 0x80;
  assert.equal(hashToBigInt(hash), (0x80n << 248n) + 1n);
  const block100000 = reverseBytes(
    hexToBytes("000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506"),
  );
  assert.equal(
    hashToBigInt(block100000),
    0x000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506n,
  );
  assert.throws(() => hashToBigInt(new Uint8Array(31)), RangeError);
});

Deno.test("hashMeetsTarget() accepts block 100000's hash under its nBits", () => {
  const hash = reverseBytes(
    hexToBytes("000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506"),
  );
  assert.equal(hashMeetsTarget(hash, bitsToTarget(0x1b04864c)), true);
  assert.equal(hashMeetsTarget(hash, bitsToTarget(0x1b03ba27)), false);
});

Deno.test("hashMeetsTarget() is exact at the boundary", () => {
  fc.assert(fc.property(fc.bigInt({ min: 1n, max: MAX_TARGET - 1n }), (target) => {
    assert.equal(hashMeetsTarget(hashOf(target), target), true);
    assert.equal(hashMeetsTarget(hashOf(target - 1n), target), true);
    assert.equal(hashMeetsTarget(hashOf(target + 1n), target), false);
  }));
  assert.equal(hashMeetsTarget(new Uint8Array(32), 0n), true);
  assert.equal(hashMeetsTarget(hashOf(1n), 0n), false);
  assert.equal(hashMeetsTarget(hashOf(MAX_TARGET), MAX_TARGET), true);
});

Deno.test("hashMeetsTarget() agrees with BigInt comparison on random hashes", () => {
  fc.assert(fc.property(arbitraryHash, fc.bigInt({ min: 0n, max: MAX_TARGET }), (hash, target) => {
    assert.equal(hashMeetsTarget(hash, target), hashToBigInt(hash) <= target);
  }));
});

Deno.test("hashDifficulty() is within 2^-51 of the exact quotient", () => {
  const scale = 1n << 128n;
  fc.assert(
    fc.property(arbitraryHash, (hash) => {
      const value = hashToBigInt(hash);
      fc.pre(value > 0n);
      // Exact quotient with 128 extra bits, rounded once when converted.
      const exact = Number((DIFF1_TARGET * scale) / value) / 2 ** 128;
      const fast = hashDifficulty(hash);
      assert.ok(Math.abs(fast / exact - 1) < 2 ** -51, `${fast} vs ${exact}`);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("hashDifficulty() reports 1 at DIFF1, ~14484 for block 100000 and Infinity for zero", () => {
  assert.equal(hashDifficulty(hashOf(DIFF1_TARGET)), 1);
  const block100000 = reverseBytes(
    hexToBytes("000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506"),
  );
  const achieved = hashDifficulty(block100000);
  assert.ok(achieved > 14484.1623612254, "the block beat its network difficulty");
  assert.ok(Math.abs(achieved - 17583.056276040857) < 1e-9, `achieved ${achieved}`);
  assert.equal(hashDifficulty(new Uint8Array(32)), Infinity);
  assert.throws(() => hashDifficulty(new Uint8Array(33)), RangeError);
});

Deno.test("hashMeetsDifficulty() matches hashMeetsTarget(difficultyToTarget()) exactly", () => {
  fc.assert(fc.property(
    arbitraryHash,
    fc.double({ min: 1e-6, max: 1e12, noNaN: true, noDefaultInfinity: true }),
    (hash, difficulty) => {
      assert.equal(
        hashMeetsDifficulty(hash, difficulty),
        hashToBigInt(hash) <= difficultyToTarget(difficulty),
      );
    },
  ));
});

Deno.test("hashMeetsDifficulty() is exact for hashes right at the share target", () => {
  fc.assert(fc.property(
    fc.double({ min: 1e-4, max: 1e12, noNaN: true, noDefaultInfinity: true }),
    (difficulty) => {
      const target = difficultyToTarget(difficulty);
      assert.equal(hashMeetsDifficulty(hashOf(target), difficulty), true);
      assert.equal(hashMeetsDifficulty(hashOf(target + 1n), difficulty), false);
      if (target > 0n) assert.equal(hashMeetsDifficulty(hashOf(target - 1n), difficulty), true);
    },
  ));
  assert.throws(() => hashMeetsDifficulty(new Uint8Array(32), 0), RangeError);
});
