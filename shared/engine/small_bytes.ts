/**
 * Small byte strings a session keeps for its whole life (its extranonce1, its payout script),
 * held as blocks of shared slabs, one slab per length: a Uint8Array of its own costs about 550 B
 * here however short it is (see block_slab.ts), a block its 104-byte view plus its bytes.
 *
 * The owner returns a block when its connection ends; nothing may read it afterwards (a released
 * block is handed, zeroed, to the next session that needs one of that length).
 */
import { BlockSlab } from "./block_slab.ts";

/** Longest byte string kept in a slab; longer ones get an array of their own. */
export const SMALL_BYTES_MAX = 64;

const slabs = new Map<number, BlockSlab<Uint8Array>>();

function slabFor(length: number): BlockSlab<Uint8Array> {
  let slab = slabs.get(length);
  if (slab === undefined) {
    slab = new BlockSlab(Uint8Array, length);
    slabs.set(length, slab);
  }
  return slab;
}

/**
 * A copy of `bytes` to keep: a slab block when 1 to {@linkcode SMALL_BYTES_MAX} bytes long, else a
 * plain copy. Give it back with {@linkcode releaseSmallBytes} when its owner is done.
 */
export function keepSmallBytes(bytes: Uint8Array): Uint8Array {
  const length = bytes.length;
  const copy = length >= 1 && length <= SMALL_BYTES_MAX
    ? slabFor(length).allocate()
    : new Uint8Array(length);
  copy.set(bytes);
  return copy;
}

/**
 * Returns a copy made by {@linkcode keepSmallBytes}; an array that is not a slab block is left to
 * the garbage collector.
 *
 * @throws {Error} when the block was already returned.
 */
export function releaseSmallBytes(bytes: Uint8Array): void {
  const slab = slabs.get(bytes.length);
  if (slab !== undefined && slab.owns(bytes)) slab.release(bytes);
}

/** Slab blocks handed out and not yet returned, all lengths, process-wide (for tests). */
export function smallBytesInUse(): number {
  let inUse = 0;
  for (const slab of slabs.values()) inUse += slab.inUse;
  return inUse;
}
