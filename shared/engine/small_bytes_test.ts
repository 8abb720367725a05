import assert from "node:assert/strict";
import { keepSmallBytes, releaseSmallBytes, SMALL_BYTES_MAX } from "./small_bytes.ts";

Deno.test("keepSmallBytes copies; copies of one length are distinct until released", () => {
  const source = Uint8Array.of(0x00, 0x14, 0xaa, 0xbb);
  const a = keepSmallBytes(source);
  const b = keepSmallBytes(Uint8Array.of(1, 2, 3, 4));
  assert.deepEqual([...a], [0x00, 0x14, 0xaa, 0xbb]);
  assert.deepEqual([...b], [1, 2, 3, 4]);
  source[0] = 9;
  assert.equal(a[0], 0x00, "a copy, not the caller's array");
  assert.notEqual(a.buffer, source.buffer);
  releaseSmallBytes(a);
  releaseSmallBytes(b);
  assert.throws(() => releaseSmallBytes(a), /already free/);
});

Deno.test("keepSmallBytes: a reused block holds only its new owner's bytes", () => {
  const kept = Array.from({ length: 600 }, (_, i) => keepSmallBytes(Uint8Array.of(i & 255, 7, 7)));
  for (const bytes of kept) releaseSmallBytes(bytes);
  const again = Array.from({ length: 600 }, (_, i) => keepSmallBytes(Uint8Array.of(1, 2, i & 255)));
  again.forEach((bytes, i) => assert.deepEqual([...bytes], [1, 2, i & 255]));
  for (const bytes of again) releaseSmallBytes(bytes);
});

Deno.test("keepSmallBytes: longer or empty strings are plain copies, released to the GC", () => {
  const long = keepSmallBytes(new Uint8Array(SMALL_BYTES_MAX + 1).fill(5));
  assert.equal(long.length, SMALL_BYTES_MAX + 1);
  assert.equal(long[SMALL_BYTES_MAX], 5);
  releaseSmallBytes(long);
  releaseSmallBytes(long); // not a slab block: nothing to return, twice is harmless
  assert.equal(keepSmallBytes(new Uint8Array(0)).length, 0);
  releaseSmallBytes(new Uint8Array(4)); // a plain array of a slab length is not taken
});
