/**
 * Newline framing for Stratum's line-delimited JSON, with a hard cap on line length so a client
 * cannot make us buffer without bound (public-pool's unbounded buffer is the cautionary tale).
 *
 * Owned by one connection; not shared. Bytes in, complete lines out, no I/O.
 */

const NEWLINE = 0x0a;
// Non-streaming decode() is stateless, so every connection can share one decoder.
const decoder = new TextDecoder();
const CARRIAGE_RETURN = 0x0d;
/** A pending-line buffer above this is dropped once its line completes (idle connections stay small). */
const KEEP_BUFFER_BYTES = 4096;

/** Result of feeding a chunk: all complete lines were delivered, or the cap was exceeded. */
export type FeedResult = "ok" | "overflow";

/** Splits a byte stream into lines of at most `maxLineBytes` bytes (excluding the newline). */
export class LineDecoder {
  readonly #maxLineBytes: number;

  /**
   * Bytes of the incomplete line in `#buffer[0, #pendingLength)`. The buffer grows by doubling,
   * so a line that arrives one byte per read is copied O(length) times in all, not once per read.
   */
  #buffer: Uint8Array | null = null;
  #pendingLength = 0;

  /** @param maxLineBytes the longest line accepted, in bytes (for example 16 KiB). */
  constructor(maxLineBytes: number) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(`Cannot create LineDecoder: maxLineBytes must be a positive integer`);
    }
    this.#maxLineBytes = maxLineBytes;
  }

  /** Bytes held for an incomplete line. */
  get pendingBytes(): number {
    return this.#pendingLength;
  }

  /**
   * Feeds one chunk and calls `onLine` for each complete, non-empty line in order.
   * Returns "overflow" as soon as a line exceeds the cap; the decoder must then be discarded.
   * Only the first `length` bytes of `chunk` are read (a reused read buffer need not be sliced).
   */
  feed(chunk: Uint8Array, onLine: (line: string) => void, length = chunk.length): FeedResult {
    let start = 0;
    while (start < length) {
      let end = chunk.indexOf(NEWLINE, start);
      if (end >= length) end = -1;
      if (end === -1) {
        const pendingLength = this.#pendingLength + length - start;
        if (pendingLength > this.#maxLineBytes) return "overflow";
        this.#append(chunk.subarray(start, length));
        return "ok";
      }
      let lineBytes = chunk;
      let lineStart = start;
      let lineEnd = end;
      if (this.#pendingLength > 0) {
        this.#append(chunk.subarray(start, end));
        lineBytes = this.#buffer!;
        lineStart = 0;
        lineEnd = this.#pendingLength;
        this.#pendingLength = 0;
        if (lineBytes.length > KEEP_BUFFER_BYTES) this.#buffer = null;
      }
      if (lineEnd > lineStart && lineBytes[lineEnd - 1] === CARRIAGE_RETURN) lineEnd--;
      if (lineEnd - lineStart > this.#maxLineBytes) return "overflow";
      if (lineEnd > lineStart) onLine(decoder.decode(lineBytes.subarray(lineStart, lineEnd)));
      start = end + 1;
    }
    return "ok";
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#pendingLength + bytes.length;
    const capacity = this.#buffer?.length ?? 0;
    if (needed > capacity) {
      const grown = new Uint8Array(
        Math.max(needed, Math.min(2 * capacity, this.#maxLineBytes + 1), 256),
      );
      if (this.#pendingLength > 0) grown.set(this.#buffer!.subarray(0, this.#pendingLength));
      this.#buffer = grown;
    }
    this.#buffer!.set(bytes, this.#pendingLength);
    this.#pendingLength = needed;
  }
}
