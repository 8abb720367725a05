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
   */
  feed(chunk: Uint8Array, onLine: (line: string) => void): FeedResult {
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end === -1) {
        const rest = chunk.subarray(start);
        const pendingLength = (this.#pending?.length ?? 0) + rest.length;
        if (pendingLength > this.#maxLineBytes) return "overflow";
        this.#pending = this.#pending === null ? rest.slice() : concat(this.#pending, rest);
        return "ok";
      }
      let line = chunk.subarray(start, end);
      if (this.#pending !== null) {
        line = concat(this.#pending, line);
        this.#pending = null;
      }
      let length = line.length;
      if (length > 0 && line[length - 1] === CARRIAGE_RETURN) length--;
      if (length > this.#maxLineBytes) return "overflow";
      if (length > 0) onLine(decoder.decode(line.subarray(0, length)));
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
