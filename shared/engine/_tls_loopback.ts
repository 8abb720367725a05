/**
 * The loopback half of the TLS terminator (`tls_terminator.ts` says why it exists): the TLS
 * server on 127.0.0.1 that decrypts, and the relay that carries one connection's bytes between
 * the miner's socket and that server. Member-private.
 *
 * @module
 */

/** Address of the loopback TLS servers (`TLS_LOOPBACK_HOST` in the config's listeners). */
export const LOOPBACK_HOST = "127.0.0.1";
/** Relay buffers start small (an idle miner holds two under pending reads) and grow once filled. */
const RELAY_INITIAL_BUFFER_BYTES = 1024;
/** A TLS record carries at most 16 KiB of plaintext plus its overhead. */
const RELAY_MAX_BUFFER_BYTES = 17 * 1024;

/** Closes a socket or listener that the peer or the other relay direction may have closed. */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed by the peer or by the other relay direction.
  }
}

/** Turns Nagle off on a TCP socket: Stratum lines are small and latency-bound. */
export function setNoDelay(conn: Deno.TcpConn): void {
  try {
    conn.setNoDelay(true);
  } catch {
    // Not fatal: only latency.
  }
}

/**
 * One loopback TLS server with one certificate. Connections are matched to the public socket
 * they relay by the loopback client's local port, whichever of connect and accept is seen first.
 */
export class LoopbackServer {
  readonly #listener: Deno.TlsListener;
  readonly port: number;
  /** Relays that connected and wait for their server-side connection, by client port. */
  readonly #waiting = new Map<number, (conn: Deno.TlsConn) => void>();
  /** Server-side connections accepted before their relay asked for them, by client port. */
  readonly #early = new Map<number, Deno.TlsConn>();
  /** Relays between "connect started" and "matched or given up". */
  #connecting = 0;
  #retired = false;
  #closed = false;
  readonly #orphanTimeoutMs: number;

  /**
   * Opens the server on 127.0.0.1, port chosen by the kernel.
   *
   * @param pair PEM certificate chain and private key
   * @param orphanTimeoutMs how long an accepted connection no relay claims is kept
   * @throws {Deno.errors.InvalidData} or {Error} when the pair is not usable (Deno's message)
   */
  constructor(pair: { cert: string; key: string }, orphanTimeoutMs: number) {
    this.#listener = Deno.listenTls({ hostname: LOOPBACK_HOST, port: 0, ...pair });
    this.port = this.#listener.addr.port;
    this.#orphanTimeoutMs = orphanTimeoutMs;
    void this.#acceptLoop();
  }

  /** Counts a relay that is about to connect (a retired server stays open until it is matched). */
  reserve(): void {
    this.#connecting++;
  }

  /** Ends a {@link reserve}; closes a retired server once nothing is on its way to it. */
  release(): void {
    this.#connecting--;
    if (this.#retired && this.#connecting === 0) this.close();
  }

  /** The server side of the loopback connection whose client port is `port`. */
  claim(port: number): Promise<Deno.TlsConn> {
    const early = this.#early.get(port);
    if (early !== undefined) {
      this.#early.delete(port);
      return Promise.resolve(early);
    }
    return new Promise((resolve) => this.#waiting.set(port, resolve));
  }

  /** Forgets a claim whose relay gave up (its connection, if it arrives later, is closed). */
  unclaim(port: number): void {
    this.#waiting.delete(port);
  }

  /** No new relays come here; closes once the ones on their way have arrived. */
  retire(): void {
    this.#retired = true;
    if (this.#connecting === 0) this.close();
  }

  /** Stops accepting; connections already accepted and claimed are not affected. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#listener);
    for (const conn of this.#early.values()) closeQuietly(conn);
    this.#early.clear();
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TlsConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closed || e instanceof Deno.errors.BadResource) return;
        // EMFILE and the like: let the process breathe rather than spin.
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const port = conn.remoteAddr.port;
      const waiter = this.#waiting.get(port);
      if (waiter !== undefined) {
        this.#waiting.delete(port);
        waiter(conn);
        continue;
      }
      // Accepted before its relay's connect() returned, or not ours (another local process):
      // kept briefly for a claim, then closed.
      this.#early.set(port, conn);
      setTimeout(() => {
        if (this.#early.get(port) === conn) {
          this.#early.delete(port);
          closeQuietly(conn);
        }
      }, this.#orphanTimeoutMs);
    }
  }
}

/**
 * The two sockets carrying one TLS connection's bytes between the miner and the loopback server.
 *
 * Server → miner bytes are read from the loopback socket as soon as they arrive and queued here,
 * counted, until the miner's socket takes them: a miner that stops reading then fills this queue
 * (closed past `maxQueuedBytes`, as a plain connection is past its output cap) rather than the
 * loopback sockets' kernel buffers, which can hold megabytes that nothing here can measure.
 */
export class Relay {
  readonly #outer: Deno.TcpConn;
  readonly #inner: Deno.TcpConn;
  readonly #maxQueuedBytes: number;
  readonly #onOverflow: () => void;
  /** Server output waiting for the miner's socket, oldest first. */
  readonly #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writing = false;
  #flushing: Promise<void> = Promise.resolve();
  #closed = false;
  /** Resolves when either direction ends (EOF, error, overflow or {@link close}). */
  readonly ended: Promise<void>;

  /**
   * Starts relaying both directions.
   *
   * @param outer the miner's socket
   * @param inner the loopback client socket connected to the TLS server
   * @param maxQueuedBytes server output the miner may leave unread before the relay closes
   * @param onOverflow called once when that happens
   */
  constructor(
    outer: Deno.TcpConn,
    inner: Deno.TcpConn,
    maxQueuedBytes: number,
    onOverflow: () => void,
  ) {
    this.#outer = outer;
    this.#inner = inner;
    this.#maxQueuedBytes = maxQueuedBytes;
    this.#onOverflow = onOverflow;
    this.ended = Promise.race([this.#toServer(), this.#toMiner()]).then(() => this.close());
  }

  /** Server output read but not yet taken by the miner's socket. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Closes once the relay ends by itself, or after `graceMs` at the latest. */
  closeAfterDrain(graceMs: number): void {
    const timer = setTimeout(() => this.close(), graceMs);
    void this.ended.then(() => clearTimeout(timer));
  }

  /** Closes both sockets; the loopback server sees EOF and the miner sees the close. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    closeQuietly(this.#outer);
    closeQuietly(this.#inner);
  }

  /** Miner → server: requests are small and the loopback server always reads. */
  async #toServer(): Promise<void> {
    let buffer = new Uint8Array(RELAY_INITIAL_BUFFER_BYTES);
    try {
      while (!this.#closed) {
        const n = await this.#outer.read(buffer);
        if (n === null) return;
        let written = 0;
        while (written < n) written += await this.#inner.write(buffer.subarray(written, n));
        if (n === buffer.length && n < RELAY_MAX_BUFFER_BYTES) {
          buffer = new Uint8Array(RELAY_MAX_BUFFER_BYTES);
        }
      }
    } catch {
      // A reset or a close from the other direction ends the relay like an EOF.
    }
  }

  /** Server → miner: read eagerly, queue with a cap, write in order. */
  async #toMiner(): Promise<void> {
    let buffer = new Uint8Array(RELAY_INITIAL_BUFFER_BYTES);
    try {
      while (!this.#closed) {
        const n = await this.#inner.read(buffer);
        if (n === null) break;
        this.#queue.push(buffer.slice(0, n));
        this.#queuedBytes += n;
        if (this.#queuedBytes > this.#maxQueuedBytes) {
          this.#onOverflow();
          return;
        }
        if (!this.#writing) this.#flushing = this.#flush();
        if (n === buffer.length && n < RELAY_MAX_BUFFER_BYTES) {
          buffer = new Uint8Array(RELAY_MAX_BUFFER_BYTES);
        }
      }
      // The server closed (after its last line, say): hand the miner what is queued first.
      await this.#flushing;
    } catch {
      // As in #toServer.
    }
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const chunk = this.#queue[0]!;
        let written = 0;
        while (written < chunk.length) {
          written += await this.#outer.write(chunk.subarray(written));
        }
        this.#queue.shift();
        this.#queuedBytes -= chunk.length;
      }
    } catch {
      this.close();
    } finally {
      this.#writing = false;
    }
  }
}
