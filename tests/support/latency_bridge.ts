/**
 * A userspace TCP proxy that stands in for a long-haul network link between two regions, since
 * this machine has no `tc netem`. Each direction has its own one-way delay, jitter and bandwidth
 * cap, and the link can be partitioned and healed.
 *
 * ```ts
 * const bridge = await startLatencyBridge({
 *   target: { hostname: "127.0.0.1", port: hubLeafPort },
 *   upstream: { delayMs: 80 }, // client → target
 *   downstream: { delayMs: 80 }, // target → client
 * });
 * // point the client at 127.0.0.1:bridge.port
 * bridge.partition({ mode: "reset" });
 * bridge.heal();
 * await bridge.close();
 * ```
 *
 * Model, per direction of each connection:
 * - bytes leave the link in the order they entered it, whatever the jitter (one TCP stream);
 * - a chunk is delivered no earlier than its arrival + `delayMs` + a uniform extra in
 *   `[0, jitterMs)`, after the chunks before it, and after the link has serialised it at
 *   `bandwidthBytesPerSec` (a queue: chunks wait for the link to be free);
 * - at most `maxBufferedBytes` (plus one read) are held per direction; beyond that the bridge
 *   stops reading, so the sender's socket buffers fill and TCP slows it down (back-pressure).
 *
 * Partition modes (see {@link PartitionMode}):
 * - `reset` models the link going down with both ends told at once (a route withdrawn, an
 *   `iptables -j REJECT --reject-with tcp-reset`, a NAT dropping state): every open connection is
 *   closed and new ones are accepted then closed at once, so peers reconnect in a loop.
 * - `blackhole` models packets silently dropped (`iptables -j DROP`, a dead long-haul circuit):
 *   connections stay open, but bytes in the cut direction(s) stop moving; peers notice only
 *   through their own timeouts (NATS pings, TLS handshake timeouts). New connections are held
 *   without reaching the target, as a SYN that gets no answer. On heal, held bytes flow again in
 *   order, as TCP retransmission would deliver them; a peer that already gave up has closed its
 *   socket, which the bridge then passes on.
 *
 * @module
 */

/** How the link is cut. */
export const PartitionMode = {
  /** Close every connection and refuse new ones (both ends see the failure at once). */
  Reset: "reset",
  /** Keep connections open and stop moving bytes (peers find out by timeouts). */
  Blackhole: "blackhole",
} as const;
/** How the link is cut. */
export type PartitionMode = typeof PartitionMode[keyof typeof PartitionMode];

/** One direction of the link. */
export const Direction = {
  /** From the connecting client to the target. */
  Upstream: "upstream",
  /** From the target back to the client. */
  Downstream: "downstream",
} as const;
/** One direction of the link. */
export type Direction = typeof Direction[keyof typeof Direction];

/** Shape of one direction of the link. */
export interface LinkShape {
  /** One-way propagation delay, milliseconds (≥ 0). */
  readonly delayMs: number;
  /** Extra delay per chunk, uniform in `[0, jitterMs)`, milliseconds (≥ 0); order is kept. */
  readonly jitterMs: number;
  /** Bandwidth cap in bytes per second; 0 means unlimited. */
  readonly bandwidthBytesPerSec: number;
}

/** A partition to apply. */
export type PartitionSpec =
  | { readonly mode: "reset" }
  | { readonly mode: "blackhole"; readonly direction?: Direction | "both" };

/** The current partition, if any. */
export interface PartitionState {
  /** How the link is cut. */
  readonly mode: PartitionMode;
  /** Whether bytes from client to target are cut. */
  readonly upstream: boolean;
  /** Whether bytes from target to client are cut. */
  readonly downstream: boolean;
}

/** Options for {@link startLatencyBridge}. */
export interface LatencyBridgeOptions {
  /** Where connections are forwarded to. */
  readonly target: { readonly hostname: string; readonly port: number };
  /** Loopback address to listen on; default `127.0.0.1`. */
  readonly hostname?: string;
  /** Port to listen on; default a free one. */
  readonly port?: number;
  /** Client → target shape; unset fields are 0. */
  readonly upstream?: Partial<LinkShape>;
  /** Target → client shape; unset fields are 0. */
  readonly downstream?: Partial<LinkShape>;
  /** Bytes held per direction per connection before the bridge stops reading; default 1 MiB. */
  readonly maxBufferedBytes?: number;
  /** Connections open at once; more are closed on accept. Default 64. */
  readonly maxConnections?: number;
  /** Source of uniform numbers in [0, 1) for jitter; default `Math.random`. */
  readonly random?: () => number;
}

/** Counters of a bridge since it started. */
export interface LatencyBridgeStats {
  /** Connections accepted and forwarded (or held, in a black-hole). */
  readonly accepted: number;
  /** Connections closed on accept (reset partition or connection limit). */
  readonly refused: number;
  /** Connections open now. */
  readonly active: number;
  /** Bytes delivered to the target. */
  readonly upstreamBytes: number;
  /** Bytes delivered to clients. */
  readonly downstreamBytes: number;
  /** Most bytes ever held at once in one direction of one connection. */
  readonly peakBufferedBytes: number;
}

/** A running bridge. */
export interface LatencyBridge {
  /** Address it listens on. */
  readonly hostname: string;
  /** Port it listens on. */
  readonly port: number;
  /** Current shape of one direction. */
  link(direction: Direction): LinkShape;
  /**
   * Changes the shape of one or both directions for chunks read from now on.
   * @throws {RangeError} If a value is negative or not finite.
   */
  setLink(direction: Direction | "both", shape: Partial<LinkShape>): void;
  /**
   * Cuts the link. A later call replaces the partition in force.
   * @throws {RangeError} If the mode or direction is unknown.
   */
  partition(spec: PartitionSpec): void;
  /** Restores the link: held bytes and connections resume. No-op when not partitioned. */
  heal(): void;
  /**
   * Corrupts the link: queues `bytes` in `direction` of every open connection, behind what it
   * already holds and ahead of what it reads next, as a faulty middlebox or NIC would splice
   * them in mid-stream (between two reads, so possibly inside a protocol message).
   *
   * @returns How many connections got the bytes (those still connecting to the target get none).
   * @throws {RangeError} If `bytes` is empty or the direction is unknown.
   */
  inject(direction: Direction, bytes: Uint8Array): number;
  /** The partition in force, or `undefined`. */
  readonly partitioned: PartitionState | undefined;
  /** Local ports of the bridge's open connections to the target (how the target sees them). */
  targetSidePorts(): number[];
  /** Counters. */
  stats(): LatencyBridgeStats;
  /** Stops listening, closes every connection and waits for them to finish. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
const DEFAULT_MAX_CONNECTIONS = 64;
const MAX_READ_BYTES = 16 * 1024;
const MIN_READ_BYTES = 256;
/** Under a bandwidth cap, read about this much of a second at a time so pacing stays smooth. */
const READ_SLICE_S = 0.05;

const ZERO_SHAPE: LinkShape = { delayMs: 0, jitterMs: 0, bandwidthBytesPerSec: 0 };

function checkShape(base: LinkShape, change: Partial<LinkShape>, what: string): LinkShape {
  const shape = { ...base, ...change };
  for (const key of ["delayMs", "jitterMs", "bandwidthBytesPerSec"] as const) {
    const value = shape[key];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(
        `Cannot shape the ${what} link: ${key} must be a finite number ≥ 0, got ${String(value)}`,
      );
    }
  }
  return shape;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`Cannot start the latency bridge: ${name} must be a positive integer`);
  }
  return value;
}

/** A one-shot wake-up for a single waiter, re-armed after each wait. */
class Wakeup {
  #resolve: (() => void) | undefined;
  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }
  notify(): void {
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.();
  }
}

/** Sleeps until `performance.now()` reaches `at` (never returns early), or until aborted. */
function sleepUntil(at: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const check = () => {
      const left = at - performance.now();
      if (left <= 0) return done();
      timer = setTimeout(check, Math.ceil(left));
    };
    signal.addEventListener("abort", done);
    check();
  });
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // Already closed: both pumps and a partition may close the same socket.
  }
}

interface Chunk {
  readonly data: Uint8Array | null;
  deliverAt: number;
}

/** The bridge's shared state that connections read. */
interface BridgeCore {
  shape(direction: Direction): LinkShape;
  random(): number;
  readonly maxBufferedBytes: number;
  cut(direction: Direction): boolean;
  /** Resolves at the next heal or partition change. */
  changed(): Promise<void>;
  delivered(direction: Direction, bytes: number): void;
  buffered(bytes: number): void;
}

/** One direction of one connection: a bounded, ordered, timed queue between two sockets. */
class Pump {
  readonly #core: BridgeCore;
  readonly #direction: Direction;
  readonly #signal: AbortSignal;
  readonly #queue: Chunk[] = [];
  readonly #queued = new Wakeup();
  readonly #drained = new Wakeup();
  #buffered = 0;
  #linkFreeAt = 0;
  #lastDeliverAt = 0;

  constructor(core: BridgeCore, direction: Direction, signal: AbortSignal) {
    this.#core = core;
    this.#direction = direction;
    this.#signal = signal;
  }

  /** Reads `source` until EOF, scheduling each chunk. Throws on a socket error. */
  async read(source: Deno.Conn): Promise<void> {
    for (;;) {
      while (this.#buffered >= this.#core.maxBufferedBytes && !this.#signal.aborted) {
        await this.#drained.wait();
      }
      if (this.#signal.aborted) return;
      const shape = this.#core.shape(this.#direction);
      const size = shape.bandwidthBytesPerSec > 0
        ? Math.min(
          MAX_READ_BYTES,
          Math.max(MIN_READ_BYTES, Math.floor(shape.bandwidthBytesPerSec * READ_SLICE_S)),
        )
        : MAX_READ_BYTES;
      const buffer = new Uint8Array(size);
      const n = await source.read(buffer);
      if (n === null) {
        this.#push({ data: null, deliverAt: this.#lastDeliverAt });
        return;
      }
      // A short read is copied out: a view would pin the whole read buffer, and the buffer limit
      // counts bytes, so many small chunks could otherwise hold far more memory than it allows.
      const data = n === buffer.length ? buffer : buffer.slice(0, n);
      // The shape read now, not before the wait: setLink() applies to bytes that arrive after it.
      this.#schedule(data, this.#core.shape(this.#direction));
    }
  }

  /** Queues `data` as if it had just been read from the source. */
  inject(data: Uint8Array): void {
    this.#schedule(data.slice(), this.#core.shape(this.#direction));
  }

  #schedule(data: Uint8Array, shape: LinkShape): void {
    const now = performance.now();
    const start = Math.max(now, this.#linkFreeAt);
    const sendMs = shape.bandwidthBytesPerSec > 0
      ? (data.length * 1000) / shape.bandwidthBytesPerSec
      : 0;
    this.#linkFreeAt = start + sendMs;
    const jitter = shape.jitterMs > 0 ? this.#core.random() * shape.jitterMs : 0;
    // Clamp to the previous chunk's time: jitter may reorder packets, never a TCP stream.
    const deliverAt = Math.max(this.#linkFreeAt + shape.delayMs + jitter, this.#lastDeliverAt);
    this.#lastDeliverAt = deliverAt;
    this.#buffered += data.length;
    this.#core.buffered(this.#buffered);
    this.#push({ data, deliverAt });
  }

  #push(chunk: Chunk): void {
    this.#queue.push(chunk);
    this.#queued.notify();
  }

  /** Writes scheduled chunks to `sink` in order; half-closes it at EOF. Throws on socket error. */
  async write(sink: Deno.Conn): Promise<void> {
    for (;;) {
      while (this.#queue.length === 0 && !this.#signal.aborted) await this.#queued.wait();
      if (this.#signal.aborted) return;
      const chunk = this.#queue[0] as Chunk;
      if (this.#core.cut(this.#direction)) {
        while (this.#core.cut(this.#direction) && !this.#signal.aborted) {
          await Promise.race([this.#core.changed(), this.#abort()]);
        }
        // A chunk held by a black-hole crosses the link after the heal, like a retransmission.
        const resumeAt = performance.now() + this.#core.shape(this.#direction).delayMs;
        chunk.deliverAt = Math.max(chunk.deliverAt, resumeAt);
        continue;
      }
      await sleepUntil(chunk.deliverAt, this.#signal);
      if (this.#signal.aborted) return;
      if (this.#core.cut(this.#direction)) continue;
      this.#queue.shift();
      if (chunk.data === null) {
        await sink.closeWrite();
        return;
      }
      await writeAll(sink, chunk.data);
      this.#buffered -= chunk.data.length;
      this.#core.delivered(this.#direction, chunk.data.length);
      this.#drained.notify();
    }
  }

  #abort(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#signal.aborted) resolve();
      else this.#signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }

  /** Wakes both loops so they notice an abort. */
  wake(): void {
    this.#queued.notify();
    this.#drained.notify();
  }
}

/** A client connection and, once connected, its target connection. */
class Bridged {
  readonly #core: BridgeCore;
  readonly #client: Deno.TcpConn;
  readonly #abort = new AbortController();
  #target: Deno.TcpConn | undefined;
  readonly #pumps: Pump[] = [];

  constructor(core: BridgeCore, client: Deno.TcpConn) {
    this.#core = core;
    this.#client = client;
  }

  get targetSidePort(): number | undefined {
    return (this.#target?.localAddr as Deno.NetAddr | undefined)?.port;
  }

  /** Runs the connection to its end (either side closing, an error, or {@link destroy}). */
  async run(target: { hostname: string; port: number }): Promise<void> {
    try {
      // A black-holed link answers no SYN: hold the client until the heal (or its own timeout).
      while (
        (this.#core.cut(Direction.Upstream) || this.#core.cut(Direction.Downstream)) &&
        !this.#abort.signal.aborted
      ) {
        await Promise.race([this.#core.changed(), this.#aborted()]);
      }
      if (this.#abort.signal.aborted) return;
      try {
        this.#target = await Deno.connect({ hostname: target.hostname, port: target.port });
      } catch {
        return; // Target down: the client sees its connection closed, as with a refused SYN.
      }
      if (this.#abort.signal.aborted) return;
      const up = new Pump(this.#core, Direction.Upstream, this.#abort.signal);
      const down = new Pump(this.#core, Direction.Downstream, this.#abort.signal);
      this.#pumps.push(up, down);
      const client = this.#client;
      const tgt = this.#target;
      await Promise.all([
        Promise.all([up.read(client), up.write(tgt)]),
        Promise.all([down.read(tgt), down.write(client)]),
      ].map((both) => both.catch(() => this.destroy())));
    } finally {
      this.destroy();
    }
  }

  /** Queues `data` in one direction; false when not (or no longer) connected to the target. */
  inject(direction: Direction, data: Uint8Array): boolean {
    if (this.#abort.signal.aborted) return false;
    const pump = this.#pumps[direction === Direction.Upstream ? 0 : 1];
    if (pump === undefined) return false;
    pump.inject(data);
    return true;
  }

  #aborted(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#abort.signal.aborted) resolve();
      else this.#abort.signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }

  /** Closes both sockets at once and drops whatever is queued. Idempotent. */
  destroy(): void {
    if (!this.#abort.signal.aborted) this.#abort.abort();
    for (const pump of this.#pumps) pump.wake();
    closeQuietly(this.#client);
    closeQuietly(this.#target);
  }
}

/**
 * Starts a latency bridge listening on loopback.
 *
 * @param options Target, shapes per direction, buffer and connection limits.
 * @returns The running bridge.
 * @throws {RangeError} (as a rejection) If a shape value or limit is invalid, or the listen
 *   address is not loopback.
 */
// deno-lint-ignore require-await -- async so that bad options reject instead of throwing
export async function startLatencyBridge(options: LatencyBridgeOptions): Promise<LatencyBridge> {
  const hostname = options.hostname ?? "127.0.0.1";
  if (hostname !== "127.0.0.1" && hostname !== "localhost" && hostname !== "::1") {
    throw new RangeError(`Cannot start the latency bridge on ${hostname}: loopback only`);
  }
  const target = options.target;
  if (!Number.isInteger(target.port) || target.port <= 0 || target.port > 65_535) {
    throw new RangeError(`Cannot start the latency bridge: bad target port ${target.port}`);
  }
  const shapes: Record<Direction, LinkShape> = {
    upstream: checkShape(ZERO_SHAPE, options.upstream ?? {}, "upstream"),
    downstream: checkShape(ZERO_SHAPE, options.downstream ?? {}, "downstream"),
  };
  const maxBufferedBytes = positiveInteger(
    options.maxBufferedBytes,
    DEFAULT_MAX_BUFFERED_BYTES,
    "maxBufferedBytes",
  );
  const maxConnections = positiveInteger(
    options.maxConnections,
    DEFAULT_MAX_CONNECTIONS,
    "maxConnections",
  );
  const random = options.random ?? Math.random;

  let partition: PartitionState | undefined;
  let changeWaiters: (() => void)[] = [];
  const counters = {
    accepted: 0,
    refused: 0,
    upstreamBytes: 0,
    downstreamBytes: 0,
    peakBufferedBytes: 0,
  };
  const connections = new Set<Bridged>();
  const runs = new Set<Promise<void>>();

  const signalChange = () => {
    const waiters = changeWaiters;
    changeWaiters = [];
    for (const wake of waiters) wake();
  };

  const core: BridgeCore = {
    shape: (direction) => shapes[direction],
    random,
    maxBufferedBytes,
    cut: (direction) => partition?.mode === PartitionMode.Blackhole && partition[direction],
    changed: () => new Promise((resolve) => changeWaiters.push(resolve)),
    delivered(direction, bytes) {
      if (direction === Direction.Upstream) counters.upstreamBytes += bytes;
      else counters.downstreamBytes += bytes;
    },
    buffered(bytes) {
      if (bytes > counters.peakBufferedBytes) counters.peakBufferedBytes = bytes;
    },
  };

  const listener = Deno.listen({ hostname, port: options.port ?? 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  let closed = false;

  const acceptLoop = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return; // Listener closed.
      }
      if (closed || partition?.mode === PartitionMode.Reset || connections.size >= maxConnections) {
        counters.refused++;
        closeQuietly(conn);
        continue;
      }
      counters.accepted++;
      const bridged = new Bridged(core, conn);
      connections.add(bridged);
      const run: Promise<void> = bridged.run(target).finally(() => {
        connections.delete(bridged);
        runs.delete(run);
      });
      runs.add(run);
    }
  })();

  const bridge: LatencyBridge = {
    hostname,
    port,
    link: (direction) => shapes[direction],
    setLink(direction, shape) {
      for (
        const d of direction === "both" ? [Direction.Upstream, Direction.Downstream] : [direction]
      ) {
        if (d !== Direction.Upstream && d !== Direction.Downstream) {
          throw new RangeError(`Cannot shape the link: unknown direction ${JSON.stringify(d)}`);
        }
        shapes[d] = checkShape(shapes[d], shape, d);
      }
    },
    partition(spec) {
      if (spec.mode === PartitionMode.Reset) {
        partition = { mode: PartitionMode.Reset, upstream: true, downstream: true };
        for (const connection of connections) connection.destroy();
      } else if (spec.mode === PartitionMode.Blackhole) {
        const direction = spec.direction ?? "both";
        if (direction !== "both" && direction !== "upstream" && direction !== "downstream") {
          throw new RangeError(
            `Cannot partition the link: unknown direction ${JSON.stringify(direction)}`,
          );
        }
        partition = {
          mode: PartitionMode.Blackhole,
          upstream: direction !== Direction.Downstream,
          downstream: direction !== Direction.Upstream,
        };
      } else {
        throw new RangeError(
          `Cannot partition the link: unknown mode ${
            JSON.stringify((spec as { mode: unknown }).mode)
          }`,
        );
      }
      signalChange();
    },
    heal() {
      partition = undefined;
      signalChange();
    },
    get partitioned() {
      return partition;
    },
    inject(direction, bytes) {
      if (direction !== Direction.Upstream && direction !== Direction.Downstream) {
        throw new RangeError(`Cannot inject: unknown direction ${JSON.stringify(direction)}`);
      }
      if (bytes.length === 0) throw new RangeError("Cannot inject: no bytes");
      let injected = 0;
      for (const connection of connections) {
        if (connection.inject(direction, bytes)) injected++;
      }
      return injected;
    },
    targetSidePorts() {
      const ports: number[] = [];
      for (const connection of connections) {
        const p = connection.targetSidePort;
        if (p !== undefined) ports.push(p);
      }
      return ports;
    },
    stats() {
      return { ...counters, active: connections.size };
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      await acceptLoop;
      for (const connection of connections) connection.destroy();
      signalChange();
      await Promise.all([...runs]);
    },
  };
  return bridge;
}
