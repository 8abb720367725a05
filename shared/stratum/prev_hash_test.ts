import assert from "node:assert/strict";
import { hexToBytes, reverseBytes } from "../bitcoin/hex.ts";
import { prevHashToStratum, stratumToPrevHash } from "./prev_hash.ts";

// A real pairing seen on the wire: display hash and the prevhash field miners received for it.
const DISPLAY = "00000000440b921e1b77c6c0487ae5616de67f788f44ae2a5af6e2194d16b6f8";
const STRATUM = "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000";

Deno.test("prevHashToStratum() swaps the bytes of each word of the internal-order hash", () => {
  assert.equal(prevHashToStratum(reverseBytes(hexToBytes(DISPLAY))), STRATUM);
});

Deno.test("stratumToPrevHash() inverts prevHashToStratum()", () => {
  assert.deepEqual(stratumToPrevHash(STRATUM), reverseBytes(hexToBytes(DISPLAY)));
});

Deno.test("stratumToPrevHash() rejects a hash of the wrong size", () => {
  assert.throws(() => stratumToPrevHash("00"), RangeError);
});
