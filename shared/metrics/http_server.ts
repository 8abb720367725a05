/**
 * The HTTP listener beside the Stratum port: Prometheus scrapes `path` (normally `/metrics`) and
 * GeoDNS health checks poll `/health`.
 *
 * A minimal HTTP/1.1 server over `Deno.listen` rather than `Deno.serve`, because the listener
 * shares the pool's event loop and descriptor limit and `Deno.serve` (Deno 2.9) offers no
 * connection cap, no header or idle timeout and no way to pause its accept loop. Here every
 * resource a client can hold is bounded: connections (`maxConnections`; the next one gets a 503
 * and is closed), the request head (8 KiB, else 431), the time to send it (`headerTimeoutMs`,
 * from accept or from its first byte), the silence between keep-alive requests (`idleTimeoutMs`)
 * and the time to take a response. Request bodies are never read: a request announcing one is
 * answered and the connection closed. Concurrent scrapes share one rendering of the registry.
 *
 * @module
 */
import type { MetricRegistry } from "./registry.ts";
import { failingChecks, type HealthReport, type HealthSource } from "./health_checks.ts";
import { headEnd, isHeadError, parseRequestHead, type RequestHead } from "./http_request_head.ts";
import { type AcceptFailure, runAcceptLoop } from "../net/accept_loop.ts";

/** The fixed path of the health endpoint. */
export const HEALTH_PATH = "/health";

/** Largest request head (request line and headers) read; a longer one is answered 431. */
export const MAX_REQUEST_HEAD_BYTES = 8 * 1024;

/** Time a client gets to take a whole response (and the server to render it). */
export const RESPONSE_TIMEOUT_MS = 10_000;

/** Defaults of the listener limits (the `metrics` config section's defaults). */
export const METRICS_LISTENER_DEFAULTS = Object.freeze({
  maxConnections: 64,
  headerTimeoutMs: 5_000,
  idleTimeoutMs: 15_000,
});

/** A listener as the server uses it (a `Deno.TcpListener`, or a wrapper in tests). */
export interface HttpListenerHandle {
  readonly addr: Deno.NetAddr;
  accept(): Promise<Deno.Conn>;
  close(): void;
}

/** Settings of {@linkcode startMetricsServer}. */
export interface MetricsServerOptions {
  /** Address to bind exactly, e.g. `127.0.0.1` or `0.0.0.0`. */
  readonly hostname: string;
  /** Port to bind; 0 lets the kernel choose (tests). */
  readonly port: number;
  /** Path of the Prometheus endpoint, e.g. `/metrics`. */
  readonly path: string;
  /** The registry to render. */
  readonly registry: MetricRegistry;
  /** Computes the `/health` answer on each request. */
  readonly health: HealthSource;
  /** Most connections open at once; the next one is answered 503 and closed (default 64). */
  readonly maxConnections?: number;
  /** A request head must arrive within this long of the connection or its first byte (5 s). */
  readonly headerTimeoutMs?: number;
  /** A kept-alive connection with no new request for this long is closed (15 s). */
  readonly idleTimeoutMs?: number;
  /** Told about a failed scrape or health computation (the client gets a 500 or 503). */
  readonly onError?: (error: unknown) => void;
  /** Told once per burst of failed accepts (e.g. EMFILE); the loop pauses and retries. */
  readonly onAcceptFailure?: (failure: AcceptFailure) => void;
  /** Binds the listener (a seam for tests; `Deno.listen` otherwise). */
  readonly listen?: (options: Deno.TcpListenOptions) => HttpListenerHandle;
  /** Waits between failed accepts (a seam for tests; a timer otherwise). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A running metrics listener. */
export interface MetricsServer {
  /** The address bound. */
  readonly hostname: string;
  /** The port bound (the kernel's choice when 0 was asked). */
  readonly port: number;
  /** Connections open now. */
  readonly openConnections: number;
  /** Connections answered 503 because `maxConnections` were open. */
  readonly refusedConnections: number;
  /** Settles when the listener and every connection have closed. */
  readonly finished: Promise<void>;
  /** Stops accepting, lets requests in flight finish, and closes. */
  shutdown(): Promise<void>;
}

/** The JSON body of `/health`. */
export interface HealthBody extends HealthReport {
  /** Names of the failing checks (empty when all pass). */
  readonly failing: string[];
}

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const encoder = new TextEncoder();
const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};
const BUSY = encodeReply(
  text(503, "too many connections\n", { "retry-after": "1" }),
  false,
  true,
);

/**
 * Starts the listener on exactly `hostname:port`.
 *
 * Answers: GET/HEAD `path` → 200 with the Prometheus text format; GET/HEAD `/health` → 200 with
 * a JSON {@linkcode HealthBody} when ok, else 503 with the same body; any other path → 404; other
 * methods on those two paths → 405.
 *
 * @throws {TypeError} when `path` does not start with `/` or is `/health`.
 * @throws {RangeError} when a limit is not a positive integer.
 * @throws {Deno.errors.AddrInUse} or a permission error when the address cannot be bound.
 */
export function startMetricsServer(options: MetricsServerOptions): MetricsServer {
  const { path } = options;
  if (!path.startsWith("/")) {
    throw new TypeError(`Cannot start metrics server: path "${path}" does not start with "/"`);
  }
  if (path === HEALTH_PATH) {
    throw new TypeError(`Cannot start metrics server: path "${path}" is reserved for health`);
  }
  const limits = {
    maxConnections: options.maxConnections ?? METRICS_LISTENER_DEFAULTS.maxConnections,
    headerTimeoutMs: options.headerTimeoutMs ?? METRICS_LISTENER_DEFAULTS.headerTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? METRICS_LISTENER_DEFAULTS.idleTimeoutMs,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot start metrics server: ${name} ${value} is not a positive integer`,
      );
    }
  }
  const listen = options.listen ?? ((o: Deno.TcpListenOptions) => Deno.listen(o));
  const listener = listen({ hostname: options.hostname, port: options.port });
  return new HttpMetricsServer(listener, options, limits);
}

/** One listener and its connections. */
class HttpMetricsServer implements MetricsServer {
  readonly hostname: string;
  readonly port: number;
  readonly finished: Promise<void>;
  readonly #listener: HttpListenerHandle;
  readonly #options: MetricsServerOptions;
  readonly #limits: { maxConnections: number; headerTimeoutMs: number; idleTimeoutMs: number };
  /** Open connections, each with whether it is between requests (closable at shutdown). */
  readonly #connections = new Map<Deno.Conn, { idle: boolean }>();
  #refused = 0;
  #open = true;
  #rendering: Promise<string> | null = null;
  #acceptLoop: Promise<void>;
  #drained: (() => void) | null = null;

  constructor(
    listener: HttpListenerHandle,
    options: MetricsServerOptions,
    limits: { maxConnections: number; headerTimeoutMs: number; idleTimeoutMs: number },
  ) {
    this.#listener = listener;
    this.#options = options;
    this.#limits = limits;
    this.hostname = listener.addr.hostname;
    this.port = listener.addr.port;
    this.#acceptLoop = runAcceptLoop(listener, {
      isOpen: () => this.#open,
      onConnection: (conn) => this.#admit(conn),
      onFailure: (failure) => {
        (options.onAcceptFailure ?? ((f: AcceptFailure) => options.onError?.(f.error)))(failure);
      },
      ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
    });
    this.finished = this.#acceptLoop.then(() => this.#allClosed());
  }

  get openConnections(): number {
    return this.#connections.size;
  }

  get refusedConnections(): number {
    return this.#refused;
  }

  async shutdown(): Promise<void> {
    if (this.#open) {
      this.#open = false;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
      // Idle keep-alive connections have nothing in flight; busy ones close after their reply.
      for (const [conn, state] of this.#connections) if (state.idle) closeQuietly(conn);
    }
    await this.finished;
  }

  #allClosed(): Promise<void> {
    if (this.#connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained = resolve);
  }

  #admit(conn: Deno.Conn): void {
    if (!this.#open) {
      closeQuietly(conn);
      return;
    }
    if (this.#connections.size >= this.#limits.maxConnections) {
      this.#refused += 1;
      // The answer fits any socket buffer, so this write never waits on the client.
      conn.write(BUSY).catch(() => {}).finally(() => closeQuietly(conn));
      return;
    }
    const state = { idle: true };
    this.#connections.set(conn, state);
    void this.#serve(conn, state).finally(() => {
      closeQuietly(conn);
      this.#connections.delete(conn);
      if (this.#connections.size === 0 && this.#drained !== null) {
        const drained = this.#drained;
        this.#drained = null;
        drained();
      }
    });
  }

  /** Reads requests one after another until the client leaves, a limit trips, or shutdown. */
  async #serve(conn: Deno.Conn, state: { idle: boolean }): Promise<void> {
    const buffer = new Uint8Array(MAX_REQUEST_HEAD_BYTES);
    let length = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A timer that closes the socket: the read or write it guards then fails and the loop ends.
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => closeQuietly(conn), ms);
    };
    let first = true;
    try {
      while (true) {
        state.idle = true;
        // Checked with idle set, in the same turn: shutdown() either sees this connection idle
        // and closes it, or ran before and is seen here.
        if (!this.#open) return;
        // A fresh connection must send its head within the header timeout; a kept-alive one may
        // stay silent for the idle timeout, then gets the header timeout from its first byte.
        const waitingForFirstByte = length === 0 && !first;
        arm(waitingForFirstByte ? this.#limits.idleTimeoutMs : this.#limits.headerTimeoutMs);
        first = false;
        let end = headEnd(buffer, length);
        let scanned = length;
        while (end === -1) {
          if (length === buffer.length) {
            await this.#reply(conn, text(431, "request head too large\n"), false, false);
            return;
          }
          const n = await conn.read(buffer.subarray(length));
          if (n === null) return;
          if (length === 0 && waitingForFirstByte) arm(this.#limits.headerTimeoutMs);
          state.idle = false;
          length += n;
          end = headEnd(buffer, length, scanned - 3);
          scanned = length;
        }
        state.idle = false;
        const head = parseRequestHead(buffer.subarray(0, end));
        buffer.copyWithin(0, end, length);
        length -= end;
        arm(RESPONSE_TIMEOUT_MS);
        if (isHeadError(head)) {
          await this.#reply(conn, text(head.status, `${head.reason}\n`), false, false);
          return;
        }
        const keepAlive = head.keepAlive && !head.hasBody && this.#open;
        await this.#reply(conn, await this.#answer(head), head.method === "HEAD", keepAlive);
        if (!keepAlive) return;
      }
    } catch {
      // Reset by the client, or closed by a timer or shutdown: the connection is done either way.
    } finally {
      clearTimeout(timer);
    }
  }

  async #reply(conn: Deno.Conn, reply: Reply, head: boolean, keepAlive: boolean): Promise<void> {
    const bytes = encodeReply(reply, head, !keepAlive);
    let written = 0;
    while (written < bytes.length) written += await conn.write(bytes.subarray(written));
  }

  async #answer(head: RequestHead): Promise<Reply> {
    const { path } = this.#options;
    if (head.pathname !== path && head.pathname !== HEALTH_PATH) return text(404, "not found\n");
    if (head.method !== "GET" && head.method !== "HEAD") {
      return text(405, "method not allowed\n", { allow: "GET, HEAD" });
    }
    if (head.pathname === HEALTH_PATH) {
      return healthReply(this.#options.health, this.#options.onError);
    }
    let body: string;
    try {
      body = await this.#render();
    } catch (error: unknown) {
      this.#options.onError?.(error);
      return text(500, "metrics collection failed\n");
    }
    return {
      status: 200,
      headers: { "content-type": this.#options.registry.contentType, "cache-control": "no-store" },
      body,
    };
  }

  /** Renders the registry once for all scrapes that arrive while a rendering runs. */
  #render(): Promise<string> {
    if (this.#rendering === null) {
      this.#rendering = this.#options.registry.metrics().finally(() => this.#rendering = null);
    }
    return this.#rendering;
  }
}

function healthReply(
  health: HealthSource,
  onError: ((error: unknown) => void) | undefined,
): Reply {
  let report: HealthReport;
  try {
    report = health();
  } catch (error: unknown) {
    onError?.(error);
    const detail = error instanceof Error ? error.message : String(error);
    report = { ok: false, checks: { health: { ok: false, detail: `check failed: ${detail}` } } };
  }
  const body: HealthBody = { ok: report.ok, checks: report.checks, failing: failingChecks(report) };
  return {
    status: report.ok ? 200 : 503,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
    body: JSON.stringify(body),
  };
}

function text(status: number, body: string, extra: Record<string, string> = {}): Reply {
  return { status, headers: { "content-type": "text/plain; charset=utf-8", ...extra }, body };
}

/** Status line, headers and (unless answering HEAD) the body, as one buffer for one write. */
function encodeReply(reply: Reply, head: boolean, close: boolean): Uint8Array {
  const body = encoder.encode(reply.body);
  let text = `HTTP/1.1 ${reply.status} ${REASONS[reply.status] ?? "Unknown"}\r\n`;
  for (const [name, value] of Object.entries(reply.headers)) text += `${name}: ${value}\r\n`;
  text += `content-length: ${body.length}\r\n`;
  if (close) text += "connection: close\r\n";
  text += "\r\n";
  const start = encoder.encode(text);
  if (head) return start;
  const out = new Uint8Array(start.length + body.length);
  out.set(start, 0);
  out.set(body, start.length);
  return out;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
