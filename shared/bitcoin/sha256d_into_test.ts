import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { sha256d } from "./hash.ts";
import { sha256dInto } from "./sha256d_into.ts";

function reference(data: Uint8Array): Uint8Array {
  const once = createHash("sha256").update(data).digest();
  return new Uint8Array(createHash("sha256").update(once).digest());
}

Deno.test("sha256dInto() matches node:crypto at every padding boundary up to 300 bytes", () => {
  const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff);
  const out = new Uint8Array(32);
  for (let length = 0; length <= 300; length++) {
    sha256dInto(data, length, out);
    assert.deepEqual(out, reference(data.subarray(0, length)), `length ${length}`);
  }
});

Deno.test("sha256dInto() agrees with sha256d() on random input, at an offset, in place", () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 400 }), (data) => {
    const out = new Uint8Array(40);
    sha256dInto(data, data.length, out, 8);
    assert.deepEqual(out.subarray(8), sha256d(data));
    const copy = data.slice();
    sha256dInto(copy, copy.length, copy, 0);
    assert.deepEqual(copy.subarray(0, 32), sha256d(data));
  }));
});

Deno.test("sha256dInto() refuses a length beyond the input or an output too small", () => {
  const out = new Uint8Array(32);
  assert.throws(() => sha256dInto(new Uint8Array(4), 5, out), RangeError);
  assert.throws(() => sha256dInto(new Uint8Array(4), 4, out, 1), RangeError);
  assert.throws(() => sha256dInto(new Uint8Array(4), 4, new Uint8Array(31)), RangeError);
});
