import assert from "node:assert/strict";
import { BlockSlab, SLAB_CHUNK_BYTES } from "./block_slab.ts";

Deno.test("BlockSlab hands out distinct zeroed blocks of the asked length", () => {
  const slab = new BlockSlab(Uint8Array, 256);
  const a = slab.allocate();
  const b = slab.allocate();
  assert.equal(a.length, 256);
  assert.equal(b.length, 256);
  assert.notEqual(a, b);
  a.fill(7);
  assert.ok(b.every((x) => x === 0), "writing one block leaves the other untouched");
  assert.equal(slab.inUse, 2);
  assert.equal(slab.capacity, SLAB_CHUNK_BYTES / 256);
});

Deno.test("BlockSlab reuses a released block, zeroed, and grows by chunks past capacity", () => {
  const slab = new BlockSlab(Uint16Array, 112);
  const perChunk = Math.floor(SLAB_CHUNK_BYTES / 224);
  const blocks = Array.from({ length: perChunk }, () => slab.allocate());
  assert.equal(slab.capacity, perChunk);
  blocks[3]!.fill(65535);
  slab.release(blocks[3]!);
  const again = slab.allocate();
  assert.equal(again, blocks[3]);
  assert.ok(again.every((x) => x === 0), "a reused block starts zeroed");
  assert.equal(slab.capacity, perChunk, "no new chunk while a block was free");
  const extra = slab.allocate();
  assert.equal(slab.capacity, 2 * perChunk);
  assert.notEqual(extra.buffer, blocks[0]!.buffer);
  assert.equal(slab.inUse, perChunk + 1);
});

Deno.test("BlockSlab refuses a double release and a block it did not hand out", () => {
  const slab = new BlockSlab(Uint8Array, 64);
  const block = slab.allocate();
  slab.release(block);
  assert.throws(() => slab.release(block), /already free/);
  assert.throws(() => slab.release(new Uint8Array(64)), /not from this slab/);
  const other = new BlockSlab(Uint8Array, 32).allocate();
  assert.throws(() => slab.release(other), /not from this slab/);
  assert.equal(slab.inUse, 0);
});

Deno.test("BlockSlab rejects a block length that does not fit a chunk", () => {
  assert.throws(() => new BlockSlab(Uint8Array, 0), RangeError);
  assert.throws(() => new BlockSlab(Uint16Array, SLAB_CHUNK_BYTES), /length must be/);
  assert.throws(() => new BlockSlab(Uint8Array, 1.5), RangeError);
});
