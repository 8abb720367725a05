import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeCompactSize, encodeCompactSize } from "./compact_size.ts";
import { bytesToHex, hexToBytes } from "./hex.ts";

const canonical: [number | bigint, string][] = [
  [0, "00"],
  [1, "01"],
  [0xfc, "fc"],
  [0xfd, "fdfd00"],
  [0xff, "fdff00"],
  [0x1234, "fd3412"],
  [0xffff, "fdffff"],
  [0x1_0000, "fe00000100"],
  [0xffff_ffff, "feffffffff"],
  [0x1_0000_0000, "ff0000000001000000"],
  [Number.MAX_SAFE_INTEGER, "ffffffffffffff1f00"],
];

Deno.test("encodeCompactSize() picks the shortest form", () => {
  for (const [value, hex] of canonical) {
    assert.equal(bytesToHex(encodeCompactSize(value)), hex, `value ${value}`);
    assert.equal(bytesToHex(encodeCompactSize(BigInt(value))), hex, `value ${value}n`);
  }
  assert.equal(bytesToHex(encodeCompactSize(0xffff_ffff_ffff_ffffn)), "ffffffffffffffffff");
});

Deno.test("encodeCompactSize() rejects negative, fractional and oversized values", () => {
  for (const bad of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, -1n, 1n << 64n]) {
    assert.throws(() => encodeCompactSize(bad), RangeError, `value ${bad}`);
  }
});

Deno.test("decodeCompactSize() reads canonical encodings at an offset", () => {
  for (const [value, hex] of canonical) {
    const bytes = hexToBytes(`aa${hex}bb`);
    assert.deepEqual(decodeCompactSize(bytes, 1), {
      value: Number(value),
      size: hex.length / 2,
    });
  }
});

Deno.test("decodeCompactSize() rejects non-canonical encodings like Core's ReadCompactSize", () => {
  for (
    const hex of [
      "fd0000",
      "fdfc00",
      "fe00000000",
      "feffff0000",
      "ff0000000000000000",
      "ffffffffff00000000",
    ]
  ) {
    assert.throws(() => decodeCompactSize(hexToBytes(hex), 0), {
      name: "RangeError",
      message: /^Cannot decode CompactSize: non-canonical/,
    }, hex);
  }
});

Deno.test("decodeCompactSize() rejects truncated input", () => {
  for (const hex of ["", "fd", "fd01", "fe010000", "ff01000000000000"]) {
    assert.throws(() => decodeCompactSize(hexToBytes(hex), 0), RangeError, hex);
  }
  assert.throws(() => decodeCompactSize(hexToBytes("01"), 1), RangeError);
  assert.throws(() => decodeCompactSize(hexToBytes("01"), -1), RangeError);
});

Deno.test("decodeCompactSize() rejects values above Number.MAX_SAFE_INTEGER", () => {
  for (const hex of ["ff0000000000002000", "ffffffffffffffffff"]) {
    assert.throws(() => decodeCompactSize(hexToBytes(hex), 0), {
      name: "RangeError",
      message: /MAX_SAFE_INTEGER/,
    });
  }
});

Deno.test("decodeCompactSize() inverts encodeCompactSize() for every safe integer", () => {
  fc.assert(fc.property(fc.maxSafeNat(), fc.uint8Array({ maxLength: 4 }), (value, prefix) => {
    const encoded = encodeCompactSize(value);
    const bytes = new Uint8Array(prefix.length + encoded.length);
    bytes.set(prefix);
    bytes.set(encoded, prefix.length);
    assert.deepEqual(decodeCompactSize(bytes, prefix.length), { value, size: encoded.length });
  }));
});
