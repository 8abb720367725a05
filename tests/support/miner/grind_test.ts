import assert from "node:assert/strict";
import { grindNonce, hashMeetsTarget, headerHash, targetToLeBytes } from "./grind.ts";

function leToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  return value;
}

const HEADER = new Uint8Array(80).map((_, i) => (i * 7) & 0xff);
const EASY_TARGET = (1n << 252n) - 1n;

Deno.test("grindNonce() returns the first nonce whose double SHA-256 meets the target", () => {
  const nonce = grindNonce(HEADER, EASY_TARGET, 0, 1_000);
  assert.notEqual(nonce, null);
  const header = Uint8Array.from(HEADER);
  for (let tried = 0; tried <= (nonce as number); tried++) {
    new DataView(header.buffer).setUint32(76, tried, true);
    const meets = leToBigInt(headerHash(header)) <= EASY_TARGET;
    assert.equal(meets, tried === nonce, `nonce ${tried}`);
  }
});

Deno.test("grindNonce() leaves the caller's header untouched", () => {
  const copy = Uint8Array.from(HEADER);
  grindNonce(HEADER, EASY_TARGET, 0, 100);
  assert.deepEqual(HEADER, copy);
});

Deno.test("grindNonce() returns null when no nonce in the range meets the target", () => {
  assert.equal(grindNonce(HEADER, 0n, 0, 50), null);
});

Deno.test("grindNonce() never tries past nonce 0xffffffff", () => {
  assert.equal(grindNonce(HEADER, 0n, 0xfffffff0, 1_000), null);
  const last = grindNonce(HEADER, (1n << 256n) - 1n, 0xffffffff, 10);
  assert.equal(last, 0xffffffff);
});

Deno.test("grindNonce() rejects headers that are not 80 bytes", () => {
  assert.throws(() => grindNonce(new Uint8Array(79), EASY_TARGET, 0, 1), RangeError);
});

Deno.test("hashMeetsTarget() compares hashes as little-endian 256-bit numbers", () => {
  const target = 0x1234n << 200n;
  const le = targetToLeBytes(target);
  assert.equal(leToBigInt(le), target);
  assert.equal(hashMeetsTarget(le, le), true);
  const above = targetToLeBytes(target + 1n);
  assert.equal(hashMeetsTarget(above, le), false);
  const below = targetToLeBytes(target - 1n);
  assert.equal(hashMeetsTarget(below, le), true);
});
