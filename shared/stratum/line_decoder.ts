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

/** Result of feeding a chunk: all complete lines were delivered, or the cap was exceeded. */
export type FeedResult = "ok" | "overflow";

/** Splits a byte stream into lines of at most `maxLineBytes` bytes (excluding the newline). */
export class LineDecoder {
  readonly #maxLineBytes: number;

  #pending: Uint8Array | null = null;

  /** @param maxLineBytes the longest line accepted, in bytes (for example 16 KiB). */
  constructor(maxLineBytes: number) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(`Cannot create LineDecoder: maxLineBytes must be a positive integer`);
    }
    this.#maxLineBytes = maxLineBytes;
  }

  /** Bytes held for an incomplete line. */
  get pendingBytes(): number {
    return this.#pending?.length ?? 0;
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
        const pendingLength = (this.#pending?.length ?? 0) + length - start;
        if (pendingLength > this.#maxLineBytes) return "overflow";
        const rest = chunk.subarray(start, length);
        this.#pending = this.#pending === null ? rest.slice() : concat(this.#pending, rest);
        return "ok";
      }
      let lineBytes = chunk;
      let lineStart = start;
      let lineEnd = end;
      if (this.#pending !== null) {
        lineBytes = concat(this.#pending, chunk.subarray(start, end));
        this.#pending = null;
        lineStart = 0;
        lineEnd = lineBytes.length;
      }
      if (lineEnd > lineStart && lineBytes[lineEnd - 1] === CARRIAGE_RETURN) lineEnd--;
      if (lineEnd - lineStart > this.#maxLineBytes) return "overflow";
      if (lineEnd > lineStart) onLine(decoder.decode(lineBytes.subarray(lineStart, lineEnd)));
      start = end + 1;
    }
    return "ok";
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
