/**
 * Socket side of a session: coalesces queued lines into one write per turn of the event loop,
 * bounds what a slow reader can make us hold, and closes after flushing.
 *
 * Transports with output wait in one process-wide list that a single microtask drains, rather
 * than each scheduling its own: a new-block broadcast queues ten thousand transports at the cost
 * of an array push each.
 */
import type { Transport } from "./session.ts";

const encoder = new TextEncoder();

/** A Transport over a Deno TCP connection. */
export class ConnectionTransport implements Transport {
  readonly #conn: Deno.Conn;
  readonly #maxQueuedBytes: number;
  /** Output not yet handed to the socket: the queued lines, concatenated. */
  #queued = "";
  #writing = false;
  #flushScheduled = false;
  #closing = false;
  #closed = false;
  /** Why the connection was closed by us, if it was. */
  closeReason: string | null = null;

  /** @param maxQueuedBytes a miner that lets this much output pile up is disconnected. */
  constructor(conn: Deno.Conn, maxQueuedBytes: number) {
    this.#conn = conn;
    this.#maxQueuedBytes = maxQueuedBytes;
  }

  /** True once closed (by us or by a failed write). */
  get closed(): boolean {
    return this.#closed || this.#closing;
  }

  /** Queues a line; the write happens after the current turn. */
  send(line: string): void {
    if (this.#closing || this.#closed) return;
    // One line (the usual case) is kept as it is; more become a rope that encode() flattens.
    this.#queued = this.#queued === "" ? line : this.#queued + line;
    if (this.#queued.length > this.#maxQueuedBytes) {
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
        let written = await this.#conn.write(bytes);
        while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
      }
    } catch {
      this.#hardClose(this.closeReason ?? "write failed");
      return;
    } finally {
      this.#writing = false;
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
