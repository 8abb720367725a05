/**
 * The bytes of one new-job broadcast's `mining.notify` lines, written side by side into shared
 * chunks rather than one string and one buffer per miner.
 *
 * Every miner's line differs only in its payout script, so the line is the job's head and tail
 * (encoded once per broadcast) around the script's hex. Encoded one by one, a broadcast to
 * 16,000 miners made about 30 MB of garbage (a concatenated string, its flat copy and an encoded
 * buffer per miner) that was still referenced when the young generation filled, since the writes
 * finish only after the loop: it was promoted and the heap grew by that much every
 * `update_interval` until the next full collection (`deno task loadtest`, one pool, 16,000
 * miners). Here a miner costs one view object; the bytes live in chunks of {@link CHUNK_BYTES}.
 *
 * A chunk stays allocated while any of its views is in a write the kernel has not taken. A
 * transport holds a view only for its write in progress (lines queued behind it are copied), so
 * a connection that stops reading pins at most one chunk until the output cap or the idle
 * timeout closes it.
 */
import type { Workbase } from "./jobs.ts";
import { payoutLengthHex } from "./jobs.ts";

/** Size of one chunk: dozens of lines, small enough that a stalled reader pins little. */
export const CHUNK_BYTES = 32 * 1024;

const encoder = new TextEncoder();

/** Encodes the lines of one broadcast of `workbase`. */
export class NotifyBroadcast {
  readonly #head: Uint8Array;
  readonly #tail: Uint8Array;
  readonly #chunkBytes: number;
  #chunk: Uint8Array = new Uint8Array(0);
  #offset = 0;

  /**
   * @param cleanJobs the lines' clean_jobs flag
   * @param chunkBytes chunk size (tests use small ones); a line longer than it gets its own
   */
  constructor(workbase: Workbase, cleanJobs: boolean, chunkBytes = CHUNK_BYTES) {
    this.#head = encoder.encode(workbase.notifyHead);
    this.#tail = encoder.encode(cleanJobs ? workbase.notifyTailClean : workbase.notifyTailUpdate);
    this.#chunkBytes = chunkBytes;
  }

  /**
   * The line of a miner paid by a script of `payoutScriptLength` bytes whose hex is `payoutKey`,
   * the same bytes as `JobManager.notifyLine` encoded. A view into a shared chunk: never write
   * to it.
   */
  line(payoutScriptLength: number, payoutKey: string): Uint8Array {
    const lengthHex = payoutLengthHex(payoutScriptLength);
    const size = this.#head.length + lengthHex.length + payoutKey.length + this.#tail.length;
    if (this.#offset + size > this.#chunk.length) {
      this.#chunk = new Uint8Array(Math.max(this.#chunkBytes, size));
      this.#offset = 0;
    }
    const chunk = this.#chunk;
    const start = this.#offset;
    chunk.set(this.#head, start);
    let at = start + this.#head.length;
    // Hex is ASCII: one byte per character.
    for (let i = 0; i < lengthHex.length; i++) chunk[at++] = lengthHex.charCodeAt(i);
    for (let i = 0; i < payoutKey.length; i++) chunk[at++] = payoutKey.charCodeAt(i);
    chunk.set(this.#tail, at);
    this.#offset = start + size;
    return chunk.subarray(start, start + size);
  }
}
