import assert from "node:assert/strict";
import { ByteReader, ByteWriter, fastHex, varuintSize } from "./_bytes.ts";
import { bytesToHex } from "../bitcoin/hex.ts";

Deno.test("varuint round-trips from 0 to 2^53 - 1 in the size varuintSize() says", () => {
  const values = [
    0,
    1,
    127,
    128,
    255,
    16_383,
    16_384,
    2 ** 32,
    2 ** 35 + 7,
    Number.MAX_SAFE_INTEGER,
  ];
  for (const value of values) {
    const w = new ByteWriter(varuintSize(value));
    w.varuint(value);
    const bytes = w.finish();
    const r = new ByteReader(bytes, "test");
    assert.equal(r.varuint("v", Number.MAX_SAFE_INTEGER), value);
    r.end();
  }
});

Deno.test("ByteReader refuses reads past the end and values above their limit", () => {
  const r = new ByteReader(Uint8Array.of(0x80, 0x01), "test message");
  assert.equal(r.varuint("fee", 200), 128);
  assert.throws(() => r.u8("next"), /Cannot decode test message: next needs 1 bytes at offset 2/);
  assert.throws(
    () => new ByteReader(Uint8Array.of(0xff, 0x7f), "m").varuint("fee", 1000),
    /fee is 16383, above the limit 1000/,
  );
  assert.throws(
    () => new ByteReader(new Uint8Array(9).fill(0x80), "m").varuint("fee", 1),
    /fee is a varint longer than 8 bytes/,
  );
  assert.throws(() => new ByteReader(Uint8Array.of(2, 0x41), "m").str8("region", 8), /truncated/);
  assert.throws(() => new ByteReader(Uint8Array.of(1, 0x07), "m").str8("region", 8), /printable/);
});

Deno.test("ByteWriter.finish() refuses a buffer it did not fill", () => {
  const w = new ByteWriter(3);
  w.u16(1);
  assert.throws(() => w.finish(), /wrote 2 of 3 bytes/);
});

Deno.test("fastHex() matches bytesToHex() on views into larger buffers", () => {
  const buffer = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff);
  const view = buffer.subarray(17, 290);
  assert.equal(fastHex(view), bytesToHex(view));
});
