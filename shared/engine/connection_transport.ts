/**
 * Socket side of a session: coalesces queued lines into one write per turn of the event loop,
 * bounds what a slow reader can make us hold, and closes after flushing.
 *
 * A slow reader pins memory in two places: here (lines queued, plus the buffer of a write the
 * kernel has not taken yet) and in the kernel's socket send buffer. The cap counts both of ours;
 * the kernel's part is bounded by `net.ipv4.tcp_notsent_lowat` in infra/sysctl (Deno has no
 * SO_SNDBUF), measured in tests/slow_reader_memory_test.ts.
 *
 * Transports with output wait in one process-wide list that a single microtask drains, rather
 * than each scheduling its own: a new-block broadcast queues ten thousand transports at the cost
 * of an array push each.
 */
import type { WritableConn } from "../net/read_op.ts";
import type { Transport } from "./session.ts";

const encoder = new TextEncoder();

/**
 * Output a connection may hold unsent (queued plus handed to a write the kernel has not taken)
 * before it is closed as not reading: about a hundred notifies, or thousands of submit answers.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 128 * 1024;

/** A Transport over a Deno TCP connection (or its id-only form, `OpConn`). */
export class ConnectionTransport implements Transport {
  readonly #conn: WritableConn;
  readonly #maxQueuedBytes: number;
  /** Output not yet handed to the socket: the queued lines, concatenated. */
  #queued = "";
  /** Bytes of the write in progress that the kernel has not taken yet (0 when none). */
  #inFlight = 0;
  #writing = false;
  #flushScheduled = false;
  #closing = false;
  #closed = false;
  /** Why the connection was closed by us, if it was. */
  closeReason: string | null = null;

  /**
   * @param maxQueuedBytes a miner that lets this much output pile up (queued, plus a write the
   *   kernel has not taken) is disconnected.
   */
  constructor(conn: WritableConn, maxQueuedBytes: number) {
    this.#conn = conn;
    this.#maxQueuedBytes = maxQueuedBytes;
  }

  /** True once closed (by us or by a failed write). */
  get closed(): boolean {
    return this.#closed || this.#closing;
  }

  /** Output held for this connection: queued, plus the part of a write the kernel has not taken. */
  get bufferedBytes(): number {
    return this.#queued.length + this.#inFlight;
  }

  /** Queues a line; the write happens after the current turn. */
  send(line: string): void {
    if (this.#closing || this.#closed) return;
    // One line (the usual case) is kept as it is; more become a rope that encode() flattens.
    this.#queued = this.#queued === "" ? line : this.#queued + line;
    // Lines are ASCII, so length is bytes. A write the kernel has not taken counts too: its buffer
    // is held until the reader makes room.
    if (this.#queued.length + this.#inFlight > this.#maxQueuedBytes) {
      this.#queued = "";
      this.#hardClose("output backlog over limit (client not reading)");
      return;
    }
    this.#scheduleFlush();
  }

  /** Flushes what is queued, then closes. */
  close(reason: string): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.closeReason ??= reason;
    this.#scheduleFlush();
  }

  /** Resolves once queued output is written (or after `timeoutMs`, whichever is first). */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while ((this.#writing || this.#flushScheduled || this.#queued !== "") && !this.#closed) {
      if (performance.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Closes immediately without flushing (peer gone or process exiting). */
  dispose(): void {
    this.#hardClose(this.closeReason ?? "disconnected");
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#writing) return;
    this.#flushScheduled = true;
    ConnectionTransport.#due.push(this);
    if (!ConnectionTransport.#drainQueued) {
      ConnectionTransport.#drainQueued = true;
      queueMicrotask(ConnectionTransport.#drainDue);
    }
  }

  /** Transports waiting for their flush, in the order they first queued output. */
  static #due: ConnectionTransport[] = [];
  static #drainQueued = false;

  static #drainDue(this: void): void {
    ConnectionTransport.#drainQueued = false;
    const due = ConnectionTransport.#due;
    ConnectionTransport.#due = [];
    for (let i = 0; i < due.length; i++) {
      const transport = due[i]!;
      transport.#flushScheduled = false;
      void transport.#flush();
    }
  }

  async #flush(): Promise<void> {
    if (this.#writing || this.#closed) return;
    this.#writing = true;
    try {
      while (this.#queued !== "") {
        const bytes = encoder.encode(this.#queued);
        this.#queued = "";
        this.#inFlight = bytes.length;
        let written = await this.#conn.write(bytes);
        this.#inFlight = bytes.length - written;
        while (written < bytes.length) {
          written += await this.#conn.write(bytes.subarray(written));
          this.#inFlight = bytes.length - written;
        }
      }
    } catch {
      this.#hardClose(this.closeReason ?? "write failed");
      return;
    } finally {
      this.#writing = false;
      this.#inFlight = 0;
    }
    if (this.#closing) this.#hardClose(this.closeReason ?? "closed");
  }

  #hardClose(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeReason ??= reason;
    try {
      this.#conn.close();
    } catch {
      // The peer closed first; the socket is already released.
    }
  }
}
