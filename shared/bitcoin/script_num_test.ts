import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeBip34Height, encodeBip34Height, encodeScriptNumPush } from "./script_num.ts";
import { bytesToHex, hexToBytes } from "./hex.ts";

Deno.test("encodeBip34Height() matches Bitcoin Core's CScript() << nHeight", () => {
  const expected: [number, string][] = [
    [0, "00"],
    [1, "51"],
    [16, "60"],
    [17, "0111"],
    [127, "017f"],
    [128, "028000"],
    [255, "02ff00"],
    [256, "020001"],
    [32767, "02ff7f"],
    [32768, "03008000"],
    [100000, "03a08601"],
    [227931, "035b7a03"],
    [840000, "0340d10c"],
    [8388608, "0400008000"],
    [0x7fff_ffff, "04ffffff7f"],
  ];
  for (const [height, hex] of expected) {
    assert.equal(bytesToHex(encodeBip34Height(height)), hex, `height ${height}`);
  }
});

Deno.test("encodeBip34Height() rejects heights outside 0..2^31-1", () => {
  for (const bad of [-1, 1.5, 0x8000_0000, Number.NaN]) {
    assert.throws(() => encodeBip34Height(bad), RangeError, `height ${bad}`);
  }
});

Deno.test("encodeScriptNumPush() pushes minimal sign-magnitude bytes, never OP_N", () => {
  const expected: [number, string][] = [
    [0, "00"],
    [1, "0101"],
    [16, "0110"],
    [-1, "0181"],
    [127, "017f"],
    [-127, "01ff"],
    [128, "028000"],
    [-128, "028080"],
    [-255, "02ff80"],
    [0x7fff_ffff, "04ffffff7f"],
    [0x8000_0000, "050000008000"],
    [-0x8000_0000, "050000008080"],
    [Number.MAX_SAFE_INTEGER, "07ffffffffffff1f"],
  ];
  for (const [n, hex] of expected) assert.equal(bytesToHex(encodeScriptNumPush(n)), hex, `n ${n}`);
  assert.throws(() => encodeScriptNumPush(0.5), RangeError);
  assert.throws(() => encodeScriptNumPush(2 ** 53), RangeError);
});

Deno.test("decodeBip34Height() inverts encodeBip34Height() and ignores trailing bytes", () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 0x7fff_ffff }),
    fc.uint8Array({ maxLength: 8 }),
    (height, extra) => {
      const prefix = encodeBip34Height(height);
      const script = new Uint8Array(prefix.length + extra.length);
      script.set(prefix);
      script.set(extra, prefix.length);
      assert.equal(decodeBip34Height(script), height);
    },
  ));
});

Deno.test("decodeBip34Height() rejects encodings Core's BIP34 check would not match", () => {
  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["0105", /must be encoded as OP_5/],
    ["0100", /not minimally encoded/],
    ["03ff0000", /not minimally encoded/],
    ["0181", /negative/],
    ["4f", /negative/],
    ["03a086", /only 2 follow/],
    ["05a086010000", /not a 1\.\.4 byte push/],
    ["6a", /not a 1\.\.4 byte push/],
  ];
  for (const [hex, message] of bad) {
    assert.throws(() => decodeBip34Height(hexToBytes(hex)), { name: "RangeError", message }, hex);
  }
});
