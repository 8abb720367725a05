/**
 * A Stratum client connection: TCP or TLS transport plus line framing and request/response
 * matching.
 * Test support, reused by the demo and the load tools; it holds one socket and nothing else.
 */
import { LineDecoder } from "@tbg/shared/stratum";

/** A response as the server sent it. */
export interface ClientResponse {
  readonly id: number;
  readonly result: unknown;
  readonly error: unknown;
}

/** Called for every server notification (`id` null, with a method). */
export type NotificationHandler = (method: string, params: unknown[]) => void;

const encoder = new TextEncoder();

/** Stratum over TLS (`stratum+tls://`): which certificate authorities to trust. */
export interface ClientTlsOptions {
  /** PEM CA certificates the server's chain must lead to (instead of the system roots). */
  readonly caCerts: readonly string[];
  /** Name checked against the certificate; the host connected to when absent. */
  readonly serverName?: string;
}

/** One TCP connection to a Stratum server. */
export class StratumConnection {
  readonly #conn: Deno.Conn;
  readonly #pending = new Map<number, (r: ClientResponse) => void>();
  readonly #handlers: NotificationHandler[] = [];
  #nextId = 1;
  /** Responses whose id matched no request in flight (a request answered twice, or unasked). */
  unmatchedResponses = 0;
  #writeChain: Promise<void> = Promise.resolve();
  #closed = false;
  /** Resolves when the socket is closed by either side. */
  readonly closed: Promise<void>;

  private constructor(conn: Deno.Conn, maxLineBytes: number) {
    this.#conn = conn;
    this.closed = this.#readLoop(new LineDecoder(maxLineBytes));
  }

  /** Connects to `host:port`, over TLS when `tls` is given (the handshake completes first). */
  static async open(
    host: string,
    port: number,
    maxLineBytes = 1 << 20,
    tls?: ClientTlsOptions,
  ): Promise<StratumConnection> {
    if (tls !== undefined) {
      const conn = await Deno.connectTls({
        hostname: tls.serverName ?? host,
        port,
        caCerts: [...tls.caCerts],
      });
      try {
        await conn.handshake();
      } catch (error) {
        conn.close();
        throw error;
      }
      return new StratumConnection(conn, maxLineBytes);
    }
    const conn = await Deno.connect({ hostname: host, port, transport: "tcp" });
    conn.setNoDelay(true);
    return new StratumConnection(conn, maxLineBytes);
  }

  /** True once the socket has closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Registers a notification handler. */
  onNotification(handler: NotificationHandler): void {
    this.#handlers.push(handler);
  }

  /** Sends a request and waits for its response (rejects on timeout or close). */
  request(method: string, params: unknown[], timeoutMs = 10_000): Promise<ClientResponse> {
    const id = this.#nextId++;
    return new Promise<ClientResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`Cannot complete ${method}: no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.sendLine(JSON.stringify({ id, method, params }) + "\n").catch((e) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(e);
      });
    });
  }

  /** Sends a request without waiting; the response is delivered to `onResponse`. */
  requestNoWait(
    method: string,
    params: unknown[],
    onResponse: (r: ClientResponse) => void,
  ): number {
    const id = this.#nextId++;
    this.#pending.set(id, onResponse);
    this.sendLine(JSON.stringify({ id, method, params }) + "\n").catch(() =>
      this.#pending.delete(id)
    );
    return id;
  }

  /** Writes raw text as-is (tests use it for malformed input). Writes are serialised. */
  sendLine(text: string): Promise<void> {
    const bytes = encoder.encode(text);
    this.#writeChain = this.#writeChain.then(() => writeAll(this.#conn, bytes));
    return this.#writeChain;
  }

  /** Closes the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer; nothing left to release.
    }
  }

  async #readLoop(decoder: LineDecoder): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        const result = decoder.feed(buffer.subarray(0, n), (line) => this.#dispatch(line));
        if (result === "overflow") break;
      }
    } catch {
      // A reset or a local close ends the loop the same way as EOF.
    } finally {
      this.close();
      for (const resolve of this.#pending.values()) {
        resolve({ id: -1, result: null, error: [-1, "connection closed", null] });
      }
      this.#pending.clear();
    }
  }

  #dispatch(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof message.method === "string") {
      const params = Array.isArray(message.params) ? message.params : [];
      for (const handler of this.#handlers) handler(message.method, params);
      return;
    }
    if (typeof message.id === "number") {
      const resolve = this.#pending.get(message.id);
      if (resolve) {
        this.#pending.delete(message.id);
        resolve({ id: message.id, result: message.result ?? null, error: message.error ?? null });
      } else {
        this.unmatchedResponses++;
      }
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}
