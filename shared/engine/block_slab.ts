/**
 * Fixed-size blocks of typed memory carved from shared 64 KiB ArrayBuffers, for the small arrays
 * every connection keeps (its read buffer, its rate-limit counters).
 *
 * A `new Uint8Array(n)` of its own costs about 550 bytes here whatever `n` is: Deno keeps every
 * typed array's bytes outside the V8 heap, so each carries an ArrayBuffer object (96 B), a
 * JSTypedArray (104 B) and a malloc'd backing store with its bookkeeping. A block is a view on a
 * shared chunk: the view (104 B) and its bytes, nothing else.
 *
 * Blocks are returned explicitly and reused (the same view object is handed out again, zeroed).
 * Chunks are never freed: the slab holds the peak number of blocks ever in use at once, like a
 * C server's client arrays. A block released twice, or one the slab did not hand out, is refused
 * with an error rather than handed to two owners.
 */

/** Typed arrays a slab can hand out. */
export type SlabArray = Uint8Array | Uint16Array;

/** Constructor of a typed array view on an ArrayBuffer. */
export interface SlabArrayConstructor<T extends SlabArray> {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** Bytes of one chunk (the blocks of a chunk share its ArrayBuffer). */
export const SLAB_CHUNK_BYTES = 64 * 1024;

/** A pool of equal blocks of `length` elements. */
export class BlockSlab<T extends SlabArray> {
  readonly #make: SlabArrayConstructor<T>;
  readonly #length: number;
  readonly #blocksPerChunk: number;
  /** Blocks released and not handed out again; a Set, so a double release is caught in O(1). */
  readonly #free = new Set<T>();
  readonly #chunks = new Set<ArrayBuffer>();
  /**
   * The newest chunk and its next block never handed out: views are made as blocks are first
   * needed, not a chunk's worth at a time (a chunk of 4-byte blocks has 16,384).
   */
  #current: ArrayBuffer | null = null;
  #nextIndex = 0;
  /** Views made so far (handed out or free). */
  #made = 0;

  /**
   * @param make the typed array type of the blocks.
   * @param length elements per block (1 to what fits in a chunk).
   */
  constructor(make: SlabArrayConstructor<T>, length: number) {
    const blockBytes = length * make.BYTES_PER_ELEMENT;
    if (!Number.isInteger(length) || length < 1 || blockBytes > SLAB_CHUNK_BYTES) {
      throw new RangeError(
        `Cannot create BlockSlab: length must be a whole number from 1 to ${
          SLAB_CHUNK_BYTES / make.BYTES_PER_ELEMENT
        }, got ${length}`,
      );
    }
    this.#make = make;
    this.#length = length;
    this.#blocksPerChunk = Math.floor(SLAB_CHUNK_BYTES / blockBytes);
  }

  /** Blocks handed out and not yet released. */
  get inUse(): number {
    return this.#made - this.#free.size;
  }

  /** Blocks the slab's chunks hold, in use or free. */
  get capacity(): number {
    return this.#chunks.size * this.#blocksPerChunk;
  }

  /** True if `block` is one of this slab's blocks (handed out or free). */
  owns(block: SlabArray): boolean {
    return block.length === this.#length && block.constructor === this.#make &&
      this.#chunks.has(block.buffer as ArrayBuffer);
  }

  /** A zeroed block, owned by the caller until it is released. */
  allocate(): T {
    let block: T | undefined;
    for (const free of this.#free) {
      block = free;
      break;
    }
    if (block === undefined) return this.#newBlock();
    this.#free.delete(block);
    block.fill(0);
    return block;
  }

  /**
   * Returns a block to the slab. Nothing may read or write it afterwards (in particular no read
   * may still be pending on it).
   *
   * @throws {Error} when the block is already free or not from this slab.
   */
  release(block: SlabArray): void {
    if (!this.owns(block)) {
      throw new Error("Cannot release block: it is not from this slab");
    }
    if (this.#free.has(block as T)) throw new Error("Cannot release block: it is already free");
    this.#free.add(block as T);
  }

  /** A new view on the next unused block (a new chunk when the newest is used up). */
  #newBlock(): T {
    const bytesPerElement = this.#make.BYTES_PER_ELEMENT;
    if (this.#current === null || this.#nextIndex === this.#blocksPerChunk) {
      this.#current = new ArrayBuffer(this.#blocksPerChunk * this.#length * bytesPerElement);
      this.#chunks.add(this.#current);
      this.#nextIndex = 0;
    }
    const offset = this.#nextIndex++ * this.#length * bytesPerElement;
    this.#made++;
    return new this.#make(this.#current, offset, this.#length);
  }
}
