import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesToHex, hexToBytes, isHexOfLength, reverseBytes } from "./hex.ts";

Deno.test("hexToBytes() decodes either case", () => {
  assert.deepEqual(hexToBytes("00ff10Ab"), Uint8Array.of(0x00, 0xff, 0x10, 0xab));
  assert.deepEqual(hexToBytes(""), new Uint8Array(0));
});

Deno.test("hexToBytes() rejects odd length with SyntaxError", () => {
  assert.throws(() => hexToBytes("abc"), {
    name: "SyntaxError",
    message: "Cannot decode hex: odd length 3",
  });
});

Deno.test("hexToBytes() rejects non-hex characters with SyntaxError", () => {
  for (const bad of ["0g", "g0", " 0", "0x", "éé", "\u0660\u0660"]) {
    assert.throws(() => hexToBytes(bad), (e: unknown) => {
      assert.ok(e instanceof SyntaxError);
      assert.match(e.message, /^Cannot decode hex: character .* is not a hex digit$/);
      return true;
    });
  }
});

Deno.test("bytesToHex() encodes lowercase and round-trips with hexToBytes()", () => {
  assert.equal(bytesToHex(Uint8Array.of(0, 1, 0xab, 0xff)), "0001abff");
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
    assert.deepEqual(hexToBytes(bytesToHex(bytes)), bytes);
  }));
});

Deno.test("reverseBytes() returns a reversed copy and leaves its input alone", () => {
  const input = Uint8Array.of(1, 2, 3);
  const out = reverseBytes(input);
  assert.deepEqual(out, Uint8Array.of(3, 2, 1));
  assert.deepEqual(input, Uint8Array.of(1, 2, 3));
  assert.deepEqual(reverseBytes(new Uint8Array(0)), new Uint8Array(0));
});

Deno.test("isHexOfLength() requires the exact length and hex digits only", () => {
  assert.equal(isHexOfLength("deadBEEF", 8), true);
  assert.equal(isHexOfLength("", 0), true);
  assert.equal(isHexOfLength("deadbee", 8), false);
  assert.equal(isHexOfLength("deadbeef0", 8), false);
  assert.equal(isHexOfLength("deadbeeg", 8), false);
  assert.equal(isHexOfLength("0xdeadbe", 8), false);
  assert.equal(isHexOfLength("dead beef", 9), false);
});

Deno.test("bytesToHex() encodes inputs longer than one internal chunk", () => {
  const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff);
  const hex = bytesToHex(bytes);
  assert.equal(hex.length, 20_000);
  assert.deepEqual(hexToBytes(hex), bytes);
  assert.equal(bytesToHex(new Uint8Array(0)), "");
});
