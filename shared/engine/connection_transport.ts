/**
 * Socket side of a session: coalesces queued lines into one write per turn of the event loop,
 * bounds what a slow reader can make us hold, and closes after flushing.
 */
import type { Transport } from "./session.ts";

const encoder = new TextEncoder();

/** A Transport over a Deno TCP connection. */
export class ConnectionTransport implements Transport {
  readonly #conn: Deno.Conn;
  readonly #maxQueuedBytes: number;
  #queue: string[] = [];
  #queuedChars = 0;
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
    this.#queue.push(line);
    this.#queuedChars += line.length;
    if (this.#queuedChars > this.#maxQueuedBytes) {
      this.#queue = [];
      this.#queuedChars = 0;
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
    while ((this.#writing || this.#flushScheduled || this.#queue.length > 0) && !this.#closed) {
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
    queueMicrotask(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#writing || this.#closed) return;
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const text = this.#queue.length === 1 ? this.#queue[0]! : this.#queue.join("");
        this.#queue = [];
        this.#queuedChars = 0;
        const bytes = encoder.encode(text);
        let offset = 0;
        while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
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
