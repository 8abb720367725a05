/**
 * TCP listeners for the Stratum engine, plain and TLS: accepts connections, applies the per-IP
 * admission rules (before a TLS handshake, so handshaking connections count), and runs one read
 * loop per connection feeding lines to its session in order. The session
 * handles each line synchronously, so a connection's requests can never overtake each other.
 */
import type { StructuredLogger } from "../log/mod.ts";
import { encodeError, LineDecoder, stratumError, StratumErrorCode } from "../stratum/mod.ts";
import { runAcceptLoop } from "../net/accept_loop.ts";
import { OpConn, readInto, readOpRid, type WritableConn } from "../net/read_op.ts";
import { ConnectionTransport } from "./connection_transport.ts";
import type { Engine } from "./engine.ts";
import { BlockSlab } from "./block_slab.ts";
import type { Session } from "./session.ts";
import type { TlsTerminator } from "./tls_terminator.ts";

/** Read buffer a connection starts with: a Stratum request is about 100–200 bytes. */
const INITIAL_READ_BUFFER_BYTES = 256;

/** One address to listen on. */
export interface ListenAddress {
  readonly hostname: string;
  readonly port: number;
}

/** Listener settings. */
export interface StratumServerOptions {
  /** SO_REUSEPORT, so several processes can share one port (needs --unstable-net). */
  readonly reusePort: boolean;
  /** Longest line accepted from a miner (bytes). */
  readonly maxLineBytes: number;
  /** Output a slow reader may leave unread before it is disconnected (bytes). */
  readonly maxQueuedBytes: number;
  /**
   * Largest per-read buffer. A connection starts with a 256-byte one (every idle miner holds its
   * buffer under a pending read) and moves to this size the first time a read fills it.
   */
  readonly readBufferBytes: number;
}

/** Accepts miners and pumps their bytes into the engine. */
export class StratumServer {
  readonly #engine: Engine;
  readonly #options: StratumServerOptions;
  readonly #log: StructuredLogger;
  readonly #listeners: Deno.TcpListener[] = [];
  readonly #tlsListeners = new Set<Deno.TcpListener>();
  readonly #terminators = new Set<TlsTerminator>();
  readonly #transports = new Set<ConnectionTransport>();
  /** Read loops still running; a counter rather than a set of promises (memory per miner). */
  #serving = 0;
  #allServed: (() => void) | null = null;
  #accepting = false;
  /** Connections refused at the cap since the episode began; 0 outside an episode. */
  #capacityRefusals = 0;

  /** @param engine the engine the sessions belong to. */
  constructor(engine: Engine, options: StratumServerOptions, log: StructuredLogger) {
    this.#engine = engine;
    this.#options = options;
    this.#log = log;
  }

  /** Bound plain addresses (ports resolved when 0 was asked for). */
  get addresses(): ListenAddress[] {
    return this.#listeners.filter((l) => !this.#tlsListeners.has(l))
      .map((l) => ({ hostname: l.addr.hostname, port: l.addr.port }));
  }

  /** Bound TLS addresses (ports resolved when 0 was asked for). */
  get tlsAddresses(): ListenAddress[] {
    return this.#listeners.filter((l) => this.#tlsListeners.has(l))
      .map((l) => ({ hostname: l.addr.hostname, port: l.addr.port }));
  }

  /** True while listeners accept connections. */
  get accepting(): boolean {
    return this.#accepting && this.#listeners.length > 0;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#transports.size;
  }

  /** Starts listening on every address. */
  listen(addresses: readonly ListenAddress[]): void {
    for (const address of addresses) this.#listen(address, null);
    this.#accepting = true;
  }

  /**
   * Starts TLS listeners: the same TCP listeners (reuse_port alike), each accepted connection
   * handed to `terminator` for its handshake before it gets a session.
   */
  listenTls(addresses: readonly ListenAddress[], terminator: TlsTerminator): void {
    this.#terminators.add(terminator);
    for (const address of addresses) this.#tlsListeners.add(this.#listen(address, terminator));
    this.#accepting = true;
  }

  #listen(address: ListenAddress, terminator: TlsTerminator | null): Deno.TcpListener {
    const listener = Deno.listen({
      hostname: address.hostname,
      port: address.port,
      transport: "tcp",
      ...(this.#options.reusePort ? { reusePort: true } : {}),
    });
    this.#listeners.push(listener);
    void this.#acceptLoop(listener, terminator);
    return listener;
  }

  /** Stops accepting new connections (open ones continue). */
  stopAccepting(): void {
    this.#accepting = false;
    for (const listener of this.#listeners.splice(0)) {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    }
    this.#tlsListeners.clear();
    for (const terminator of this.#terminators) terminator.stopHandshakes();
  }

  /** Waits until every connection has ended, up to `timeoutMs`; then closes the rest. */
  async closeAll(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
    await Promise.race([this.#served(), deadline]);
    clearTimeout(timer);
    for (const transport of this.#transports) transport.dispose();
    await this.#served();
    for (const terminator of this.#terminators) terminator.close();
  }

  /** Resolves once no read loop is running. */
  #served(): Promise<void> {
    if (this.#serving === 0) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const previous = this.#allServed;
    this.#allServed = () => {
      previous?.();
      resolve();
    };
    return promise;
  }

  async #acceptLoop(listener: Deno.TcpListener, terminator: TlsTerminator | null): Promise<void> {
    // Out of descriptors (EMFILE, ENFILE) the loop pauses with a growing backoff instead of
    // spinning; the connection cap (maxclients fitted under the open-file limit) should keep a
    // process from getting there.
    await runAcceptLoop(listener, {
      isOpen: () => this.#accepting,
      onConnection: (conn) => this.#onAccepted(conn, terminator),
      onFailure: ({ error, backoffMs }) =>
        this.#log.warn("accept failed, pausing", { error: String(error), backoff_ms: backoffMs }),
      onRecovered: (failures) => this.#log.info("accepting again", { failed_accepts: failures }),
    });
  }

  #onAccepted(conn: Deno.TcpConn, terminator: TlsTerminator | null): void {
    const ip = conn.remoteAddr.hostname;
    const admission = this.#engine.admit(ip);
    if (!admission.ok) {
      if (admission.rule === "maxclients") this.#noteAtCapacity();
      // Deno cannot set SO_LINGER for a true RST; closing before any byte is the nearest.
      try {
        conn.close();
      } catch {
        // Peer already gone.
      }
      return;
    }
    if (this.#capacityRefusals > 0) {
      this.#log.info("connection cap: accepting again", {
        refused: this.#capacityRefusals,
        connections: this.connectionCount,
      });
      this.#capacityRefusals = 0;
    }
    this.#serving++;
    if (terminator !== null) {
      void this.#serveTls(conn, ip, terminator);
      return;
    }
    try {
      conn.setNoDelay(true);
    } catch {
      // Not fatal: only latency.
    }
    // From here the miner is served through the connection's resource id: the TcpConn object,
    // with its address objects and pending-read set, is left to the collector (read_op.ts).
    const byId = OpConn.of(conn);
    if (byId === null) this.#serve(conn, conn, ip);
    else this.#serve(byId, null, ip);
  }

  /** Logs once per episode at the connection cap (the metric counts every refusal). */
  #noteAtCapacity(): void {
    if (this.#capacityRefusals++ === 0) {
      this.#log.warn("connection cap reached: refusing new miners", {
        connections: this.connectionCount,
      });
    }
  }

  async #serveTls(conn: Deno.TcpConn, ip: string, terminator: TlsTerminator): Promise<void> {
    let accepted = null;
    try {
      accepted = await terminator.handshake(conn);
    } catch (e) {
      this.#log.warn("TLS handshake error", { error: String(e) });
    } finally {
      if (accepted === null) {
        this.#engine.abandon(ip);
        this.#endServing();
      }
    }
    if (accepted !== null) this.#serve(accepted.conn, accepted.conn, ip);
  }

  #endServing(): void {
    if (--this.#serving === 0 && this.#allServed !== null) {
      const resolve = this.#allServed;
      this.#allServed = null;
      resolve();
    }
  }

  /**
   * Serves one miner: `conn` for writes and closing; reads through the op when `conn` is an
   * `OpConn` or `readable` has a resource id, else through `readable.read()`.
   */
  #serve(conn: WritableConn, readable: Deno.Conn | null, ip: string): void {
    let transport: ConnectionTransport | null = null;
    try {
      transport = new ConnectionTransport(conn, this.#options.maxQueuedBytes);
      this.#transports.add(transport);
      const session = this.#engine.open(ip, transport);
      const rid = conn instanceof OpConn ? conn.rid : readOpRid(readable!);
      new ServedConnection(rid === null ? readable : null, rid, transport, session, this.#reading)
        .read();
    } catch (e) {
      // Nothing above is expected to throw; if it does, the connection must not leak.
      this.#log.warn("cannot serve connection", { error: String(e) });
      if (transport !== null) {
        transport.dispose();
        this.#transports.delete(transport);
      }
      this.#endServing();
    }
  }

  /** What every connection's reader shares: limits, and what to do when a connection ends. */
  readonly #reading: ReadContext = {
    maxLineBytes: () => this.#options.maxLineBytes,
    maxReadBytes: () => this.#options.readBufferBytes,
    lineTooLong: (session) => this.#engine.onProtocolError(session, "line_too_long"),
    ended: (served, reason) => this.#connectionEnded(served, reason),
  };

  #connectionEnded(served: ServedConnection, reason: string): void {
    const transport = served.transport;
    try {
      this.#engine.close(served.session, transport.closeReason ?? reason);
    } catch (e) {
      this.#log.warn("error closing session", { error: String(e) });
    }
    // Let a queued goodbye (an error line, client.reconnect) reach the miner before the socket goes.
    void transport.settle(1_000).finally(() => {
      transport.dispose();
      this.#transports.delete(transport);
      this.#endServing();
    });
  }
}

/** What a connection's reader needs from its server (one object per server, not per miner). */
interface ReadContext {
  maxLineBytes(): number;
  maxReadBytes(): number;
  lineTooLong(session: Session): void;
  ended(served: ServedConnection, reason: string): void;
}

/**
 * Small read buffers, shared by all connections of the process: a block is a view on a shared
 * ArrayBuffer, where a buffer of its own would cost an ArrayBuffer and a malloc'd backing store.
 */
const readBuffers = new BlockSlab(Uint8Array, INITIAL_READ_BUFFER_BYTES);

/** Small read buffers handed out and not yet returned, process-wide (for tests). */
export function readBuffersInUse(): number {
  return readBuffers.inUse;
}

/**
 * One connection's read loop, written as promise callbacks rather than an async function: an idle
 * miner waits on its pending read without a suspended function frame (generator, register file,
 * promise and reaction: about half a kilobyte each). Lines are handed to the session in order and
 * synchronously, as before.
 */
/**
 * Connections just served, whose next read starts after a turn of the event loop. Started at once,
 * a connection whose peer keeps sending (a miner with several submits in flight) could be read
 * again and again within one turn while others' completed reads waited: at saturation (1,000
 * connections × 4 submits in flight, one core) the least-served connection got 36–156 responses
 * where the most-served got 3,200, and p99.9 was 7–10 s. Deferred to the next turn, every
 * connection ready in a turn is served once before any is served twice: 856–884 against
 * 1,916–1,944, p99.9 1.0–1.1 s, the same throughput (BENCHMARKS.md, "ckpool side by side").
 */
const readsNextTurn: ServedConnection[] = [];
let nextTurnQueued = false;

function readNextTurn(connection: ServedConnection): void {
  readsNextTurn.push(connection);
  if (nextTurnQueued) return;
  nextTurnQueued = true;
  setTimeout(startDeferredReads, 0);
}

function startDeferredReads(): void {
  nextTurnQueued = false;
  const due = readsNextTurn.splice(0);
  for (let i = 0; i < due.length; i++) due[i]!.read();
}

class ServedConnection {
  readonly transport: ConnectionTransport;
  readonly session: Session;
  /** Read through `Conn.read()` when there is no resource id for the op, else null. */
  readonly #conn: Deno.Conn | null;
  /** Resource id for the runtime's read op, or null to read through `Conn.read()`. */
  readonly #rid: number | null;
  readonly #decoder: LineDecoder;
  readonly #context: ReadContext;
  /** The read buffer: a slab block (256 B) until a read fills it, then one of the full size. */
  #buffer: Uint8Array;
  #fromSlab: boolean;
  #ended = false;
  readonly #onLine = (line: string) => this.session.handleLine(line);
  /** The op answers 0 at end of stream, `Conn.read()` null. */
  readonly #onRead = (n: number | null) => this.#handle(n === 0 ? null : n);
  readonly #onError = (e: unknown) =>
    this.#end(
      e instanceof Deno.errors.ConnectionReset ? "connection reset" : `read error: ${String(e)}`,
    );

  constructor(
    conn: Deno.Conn | null,
    rid: number | null,
    transport: ConnectionTransport,
    session: Session,
    context: ReadContext,
  ) {
    this.#conn = conn;
    this.#rid = rid;
    this.transport = transport;
    this.session = session;
    this.#context = context;
    this.#decoder = new LineDecoder(context.maxLineBytes());
    // Idle miners are the many: each holds a small buffer under its pending read, and only a
    // connection whose read filled it (a pipelined burst) moves to the full size.
    this.#fromSlab = context.maxReadBytes() >= INITIAL_READ_BUFFER_BYTES;
    this.#buffer = this.#fromSlab ? readBuffers.allocate() : new Uint8Array(context.maxReadBytes());
  }

  /** Starts the next read (or ends, once the transport is closed). */
  read(): void {
    if (this.transport.closed) return this.#end("client closed");
    let pending: Promise<number | null>;
    try {
      // Through the op an idle miner's pending read holds no suspended Conn.read() frame (read_op.ts).
      pending = this.#rid === null
        ? this.#conn!.read(this.#buffer)
        : readInto(this.#rid, this.#buffer);
    } catch (e) {
      return this.#onError(e);
    }
    pending.then(this.#onRead, this.#onError);
  }

  #handle(n: number | null): void {
    if (n === null) return this.#end("client closed");
    let result;
    try {
      result = this.#decoder.feed(this.#buffer, this.#onLine, n);
    } catch (e) {
      return this.#onError(e);
    }
    const maxBuffer = this.#context.maxReadBytes();
    if (n === this.#buffer.length && n < maxBuffer) {
      // No read is pending on the small block here: it can go back to the slab.
      if (this.#fromSlab) readBuffers.release(this.#buffer);
      this.#fromSlab = false;
      this.#buffer = new Uint8Array(maxBuffer);
    }
    if (result === "overflow") {
      const maxLineBytes = this.#context.maxLineBytes();
      this.#context.lineTooLong(this.session);
      this.transport.send(
        encodeError(
          null,
          stratumError(StratumErrorCode.other, `Line too long: over ${maxLineBytes} bytes`),
        ),
      );
      this.session.close("line too long");
      return this.#end("client closed");
    }
    readNextTurn(this);
  }

  /** Called once, never while a read is pending (so the buffer can be returned). */
  #end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#fromSlab) {
      this.#fromSlab = false;
      readBuffers.release(this.#buffer);
    }
    this.#context.ended(this, reason);
  }
}
