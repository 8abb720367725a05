/**
 * One load-generator connection on a raw Deno TCP socket: subscribe and authorize pipelined in
 * one write, follow mining.notify, then write submits for the current job. Its state is a few
 * numbers and strings, one small read buffer and a ring of send times, so ten thousand of them
 * fit in one process.
 */
import { connectDenoSocket, connectNodeSocket, type LoadSocket } from "./load_socket.ts";
import type { LoadStats } from "./load_stats.ts";
import {
  type ScannedNotify,
  type ScannedResponse,
  scanNotify,
  scanResponse,
} from "./reply_scan.ts";

/** A line longer than this closes the connection (the pool never sends one). */
export const MAX_LINE_BYTES = 64 * 1024;
/** Submit ids start here; 1 and 2 are subscribe and authorize. */
const FIRST_SUBMIT_ID = 3;

/** Where a connection is in its life. */
export const ConnectionState = {
  idle: 0,
  handshake: 1,
  ready: 2,
  closed: 3,
} as const;

/** One of {@link ConnectionState}. */
export type ConnectionState = typeof ConnectionState[keyof typeof ConnectionState];

/** What connections share with the run that owns them. */
export interface ConnectionHost {
  readonly stats: LoadStats;
  /** Submits each connection keeps in flight (closed loop); 0 in open-loop and idle modes. */
  readonly closedLoop: number;
  /** Most submits one connection may have in flight (send-time ring size, a power of two; 0 idle). */
  readonly maxInFlight: number;
  /** False once the run is stopping: no new submits, closes are expected. */
  readonly running: boolean;
  /** Called once when the connection is subscribed, authorized and has a job, or failed. */
  settled(connection: LoadConnection): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const scratch: ScannedResponse = { id: 0, errorCode: 0, accepted: false };
const notifyScratch: ScannedNotify = { jobId: "", ntimeHex: "", cleanJobs: false };

function hex32(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}

/** The error's code (node:net: ECONNREFUSED, EADDRNOTAVAIL…) or name (Deno: ConnectionRefused…). */
function connectErrorName(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code;
    return typeof code === "string" ? code : e.name;
  }
  return String(e);
}

/**
 * The pool process that serves a connection, from the extranonce1 it was given: its first two
 * bytes (4 hex digits) are the region index and the instance index of the process
 * (shared/config/extranonce_space.ts), so miners of several `reuse_port` processes on one port
 * can be told apart. "" when extranonce1 is not such a hex string.
 */
export function notifySource(extranonce1: unknown): string {
  return typeof extranonce1 === "string" && /^[0-9a-f]{4}/i.test(extranonce1)
    ? extranonce1.slice(0, 4).toLowerCase()
    : "";
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** A Stratum connection that submits shares the pool will reject as low difficulty. */
export class LoadConnection {
  readonly username: string;
  state: ConnectionState = ConnectionState.idle;
  /** performance.now() when the connection was started. */
  startedAtMs = 0;
  /** Submit responses this connection received in the measured window (fairness). */
  windowResponses = 0;
  #settled = false;
  #conn: LoadSocket | null = null;
  readonly #host: ConnectionHost;
  #subscribed = false;
  #authorized = false;
  #extranonce2Chars = 0;
  /** Which pool process serves this connection (see {@link notifySource}); "" until subscribed. */
  #source = "";
  #jobId = "";
  #ntimeHex = "";
  #extranonce2 = 0;
  #nextId = FIRST_SUBMIT_ID;
  #inFlight = 0;
  #want = 0;
  #writing = false;
  #sendTimes: Float64Array | null = null;
  #carry: Uint8Array | null = null;

  /** @param username `<address>.<worker>` sent in authorize and every submit. */
  constructor(host: ConnectionHost, username: string) {
    this.#host = host;
    this.username = username;
  }

  /** Submits written but not answered yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Connects (from `source` when given, see load_socket.ts) and runs until the socket
   * closes; never rejects.
   */
  async run(
    hostname: string,
    port: number,
    source?: { readonly address: string; readonly port: number },
  ): Promise<void> {
    this.startedAtMs = performance.now();
    this.state = ConnectionState.handshake;
    let conn: LoadSocket;
    try {
      conn = source === undefined
        ? await connectDenoSocket(hostname, port)
        : await connectNodeSocket(hostname, port, source.address, source.port);
    } catch (e) {
      this.state = ConnectionState.closed;
      this.fail(`connect: ${connectErrorName(e)}`);
      return;
    }
    if ((this.state as ConnectionState) === ConnectionState.closed || !this.#host.running) {
      // Timed out or stopped while connecting: already counted, or counted now.
      conn.close();
      this.state = ConnectionState.closed;
      this.fail("stopped before ready");
      return;
    }
    this.#conn = conn;
    this.#write(
      `{"id":1,"method":"mining.subscribe","params":["tbg-load/0.1"]}\n` +
        `{"id":2,"method":"mining.authorize","params":[${JSON.stringify(this.username)},"x"]}\n`,
    );
    await conn.pump((buffer, n) => {
      if (this.state !== ConnectionState.closed) this.#onBytes(buffer, n);
    });
    const wasReady = (this.state as ConnectionState) === ConnectionState.ready;
    this.close();
    if (wasReady && this.#host.running) this.#host.stats.closedByServer++;
    this.fail(this.#host.running ? "closed by server before ready" : "stopped before ready");
  }

  /** Marks a connection that never became ready as failed (no-op once settled). */
  fail(reason: string): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#host.stats.fail(reason);
    this.close();
    this.#host.settled(this);
  }

  /** Open loop: queue one submit; false when the connection is not ready or at its cap. */
  requestSubmit(): boolean {
    if (this.state !== ConnectionState.ready) return false;
    if (this.#inFlight + this.#want >= this.#host.maxInFlight) return false;
    this.#want++;
    this.#pump();
    return true;
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.state === ConnectionState.closed && this.#conn === null) return;
    this.state = ConnectionState.closed;
    const conn = this.#conn;
    this.#conn = null;
    conn?.close();
  }

  #onBytes(buffer: Uint8Array, n: number): void {
    // One clock read per chunk: every line in it arrived together.
    const now = performance.now();
    let start = 0;
    while (start < n) {
      const nl = buffer.indexOf(10, start);
      if (nl === -1 || nl >= n) break;
      if (this.#carry !== null) {
        const line = concat(this.#carry, buffer.subarray(start, nl));
        this.#carry = null;
        this.#line(line, 0, line.length, now);
      } else {
        this.#line(buffer, start, nl, now);
      }
      start = nl + 1;
      if (this.state === ConnectionState.closed) return;
    }
    if (start < n) {
      const rest = buffer.slice(start, n);
      this.#carry = this.#carry === null ? rest : concat(this.#carry, rest);
      if (this.#carry.length > MAX_LINE_BYTES) {
        this.fail("line too long");
        this.close();
        return;
      }
    }
    if (this.#want > 0) this.#pump();
  }

  #line(buffer: Uint8Array, start: number, end: number, now: number): void {
    if (end > start && buffer[end - 1] === 13) end--;
    if (end === start) return;
    if (scanResponse(buffer, start, end, scratch)) {
      this.#response(scratch.id, scratch.errorCode, scratch.accepted, null, now);
      return;
    }
    if (scanNotify(buffer, start, end, notifyScratch)) {
      this.#notify(notifyScratch.jobId, notifyScratch.ntimeHex, notifyScratch.cleanJobs);
      return;
    }
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(decoder.decode(buffer.subarray(start, end)));
    } catch {
      return;
    }
    if (typeof message.method === "string") {
      const params = message.params;
      if (
        message.method === "mining.notify" && Array.isArray(params) && typeof params[7] === "string"
      ) {
        this.#notify(String(params[0]), params[7], params[8] === true);
      }
      return;
    }
    if (typeof message.id !== "number") return;
    const error = message.error;
    const code = Array.isArray(error)
      ? Number(error[0]) || 20
      : error === null || error === undefined
      ? 0
      : 20;
    this.#response(message.id, code, message.result === true, message.result, now);
  }

  #response(id: number, code: number, accepted: boolean, result: unknown, now: number): void {
    if (id === 1) {
      if (code !== 0 || !Array.isArray(result) || typeof result[2] !== "number") {
        this.fail("subscribe refused");
        return;
      }
      this.#extranonce2Chars = result[2] * 2;
      this.#source = notifySource(result[1]);
      this.#subscribed = true;
      this.#maybeReady();
      return;
    }
    if (id === 2) {
      if (code !== 0 || !accepted) {
        this.fail("authorize refused");
        return;
      }
      this.#authorized = true;
      this.#maybeReady();
      return;
    }
    if (id < FIRST_SUBMIT_ID || this.#inFlight === 0) return;
    this.#inFlight--;
    const sentAt = this.#sendTimes![id & (this.#host.maxInFlight - 1)]!;
    this.#host.stats.response(code, accepted, (now - sentAt) * 1000);
    if (this.#host.stats.windowOpen) this.windowResponses++;
    if (this.#host.closedLoop > 0 && this.#host.running) this.#want++;
  }

  #notify(jobId: string, ntime: string, cleanJobs: boolean): void {
    if (this.state === ConnectionState.ready) {
      this.#host.stats.notify(
        jobId,
        cleanJobs,
        performance.timeOrigin + performance.now(),
        this.#source,
      );
    }
    this.#jobId = jobId;
    this.#ntimeHex = ntime;
    this.#maybeReady();
  }

  #maybeReady(): void {
    if (this.state !== ConnectionState.handshake) return;
    if (!this.#subscribed || !this.#authorized || this.#jobId === "") return;
    this.state = ConnectionState.ready;
    this.#settled = true;
    this.#host.stats.established++;
    this.#host.settled(this);
    if (this.#host.maxInFlight > 0) this.#sendTimes = new Float64Array(this.#host.maxInFlight);
    if (this.#host.closedLoop > 0 && this.#host.running) {
      this.#want = this.#host.closedLoop;
      this.#pump();
    }
  }

  #pump(): void {
    if (this.#writing || this.#want === 0 || this.state !== ConnectionState.ready) return;
    const stats = this.#host.stats;
    const mask = this.#host.maxInFlight - 1;
    const times = this.#sendTimes!;
    const now = performance.now();
    let text = "";
    for (; this.#want > 0; this.#want--) {
      const id = this.#nextId++;
      const extranonce2 = (this.#extranonce2++).toString(16).padStart(this.#extranonce2Chars, "0");
      const nonce = hex32(Math.random() * 0x100000000);
      text +=
        `{"id":${id},"method":"mining.submit","params":["${this.username}","${this.#jobId}",` +
        `"${extranonce2}","${this.#ntimeHex}","${nonce}"]}\n`;
      times[id & mask] = now;
      this.#inFlight++;
      if (stats.windowOpen) stats.submitsSent++;
    }
    this.#write(text);
  }

  #write(text: string): void {
    const conn = this.#conn;
    if (conn === null) return;
    this.#writing = true;
    conn.write(encoder.encode(text)).then(() => {
      this.#writing = false;
      if (this.#want > 0) this.#pump();
    }, () => {
      this.#writing = false;
      this.close();
    });
  }
}
