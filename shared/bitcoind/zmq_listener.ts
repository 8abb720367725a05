/**
 * Bitcoin Core's ZMQ `hashblock` notifications (`-zmqpubhashblock=tcp://…`).
 *
 * Each message has three frames: the topic `hashblock`, the 32-byte block hash in display order
 * (Core reverses it before sending, so its hex is what RPCs show), and a 4-byte little-endian
 * sequence number that Core increments per topic. A jump in the sequence means messages were
 * lost (ZMQ drops on a full queue or during a reconnect), so the caller should ask the node for
 * its tip instead of trusting the stream.
 *
 * ZMQ reconnects by itself; ZMTP heartbeats make a silently dead TCP connection visible.
 * The zeromq addon is loaded only when a listener starts, so importing this module needs no
 * extra permission; starting one needs `--allow-ffi` and `--allow-read` for the addon
 * (`node_modules`, and `/etc/alpine-release`, which its loader probes) besides `--allow-net`.
 *
 * @module
 */
import type * as Zmq from "zeromq";
import { getLogger, type StructuredLogger } from "../log/logger.ts";
import { parseServiceUrl } from "../config/endpoint.ts";

/** The topic Core publishes block hashes on. */
export const HASHBLOCK_TOPIC = "hashblock";

/** One parsed `hashblock` message. */
export interface HashBlockMessage {
  /** Block hash, display hex (as getbestblockhash returns it). */
  readonly hashHex: string;
  /** Core's per-topic sequence number (wraps at 2^32). */
  readonly sequence: number;
}

/** A jump in the sequence: messages were lost, or the publisher restarted. */
export interface SequenceGap {
  /** The sequence that should have come next. */
  readonly expected: number;
  /** The sequence that came. */
  readonly received: number;
}

/**
 * Parses the frames of one `hashblock` message.
 *
 * @throws {SyntaxError} when the frames are not [topic, 32-byte hash, 4-byte sequence]
 */
export function parseHashBlockMessage(frames: readonly Uint8Array[]): HashBlockMessage {
  if (frames.length !== 3) {
    throw new SyntaxError(`Cannot read hashblock message: ${frames.length} frames, expected 3`);
  }
  const [topic, hash, sequence] = frames as [Uint8Array, Uint8Array, Uint8Array];
  const topicText = new TextDecoder().decode(topic);
  if (topicText !== HASHBLOCK_TOPIC) {
    throw new SyntaxError(`Cannot read hashblock message: topic is ${JSON.stringify(topicText)}`);
  }
  if (hash.length !== 32) {
    throw new SyntaxError(
      `Cannot read hashblock message: hash has ${hash.length} bytes, expected 32`,
    );
  }
  if (sequence.length !== 4) {
    throw new SyntaxError(
      `Cannot read hashblock message: sequence has ${sequence.length} bytes, expected 4`,
    );
  }
  let hashHex = "";
  for (const byte of hash) hashHex += byte.toString(16).padStart(2, "0");
  const view = new DataView(sequence.buffer, sequence.byteOffset, 4);
  return { hashHex, sequence: view.getUint32(0, true) };
}

/** Follows a ZMQ sequence and reports gaps; no I/O. */
export class SequenceTracker {
  #last: number | undefined;

  /**
   * Records one sequence number.
   *
   * @returns the gap when `sequence` is not the successor of the previous one, else undefined
   */
  observe(sequence: number): SequenceGap | undefined {
    const last = this.#last;
    this.#last = sequence;
    if (last === undefined) return undefined;
    const expected = (last + 1) >>> 0;
    return sequence === expected ? undefined : { expected, received: sequence };
  }
}

/** Options of {@link ZmqBlockListener}. */
export interface ZmqBlockListenerOptions {
  /** `tcp://host:port` (the `zmqblock` config value). */
  readonly endpoint: string;
  /** Called for every block hash, in arrival order. */
  readonly onBlock: (hashHex: string, sequence: number) => void;
  /** Called when the sequence jumps (after `onBlock` for the message that revealed it). */
  readonly onGap?: (gap: SequenceGap) => void;
  /** ZMTP heartbeat interval, ms (default 10,000); a peer silent for 3 intervals is dropped. */
  readonly heartbeatIntervalMs?: number;
  /** Defaults to the `["bitcoind", "zmq"]` logger. */
  readonly logger?: StructuredLogger;
}

/**
 * Subscribes to `hashblock` on one endpoint.
 *
 * Under Deno, a zeromq.js socket whose established connection drops stops delivering messages
 * after libzmq reconnects (it works under Node; a fresh socket works under both). So on every
 * `disconnect` event the listener replaces its socket with a new one, which connects (and keeps
 * retrying) on its own. Only the listener touches its sockets.
 */
export class ZmqBlockListener {
  readonly #options: ZmqBlockListenerOptions;
  readonly #log: StructuredLogger;
  readonly #tracker = new SequenceTracker();
  #zmq: typeof Zmq | undefined;
  #socket: Zmq.Subscriber | undefined;
  readonly #loops = new Set<Promise<void>>();
  #state: "idle" | "starting" | "running" | "closed" = "idle";
  #received = 0;
  #gaps = 0;
  #reopens = 0;
  #lastMessageAtMs = 0;

  /**
   * @param options endpoint and callbacks
   * @throws {TypeError} when the endpoint is not `tcp://host:port`
   */
  constructor(options: ZmqBlockListenerOptions) {
    if (parseServiceUrl(options.endpoint, { tcp: 0 }) === undefined) {
      throw new TypeError(
        `Cannot use zmqblock ${JSON.stringify(options.endpoint)}: expected "tcp://host:port"`,
      );
    }
    this.#options = options;
    this.#log = options.logger ?? getLogger(["bitcoind", "zmq"]);
  }

  /** The endpoint subscribed to. */
  get endpoint(): string {
    return this.#options.endpoint;
  }

  /** Messages received so far. */
  get received(): number {
    return this.#received;
  }

  /** Sequence gaps seen so far. */
  get gaps(): number {
    return this.#gaps;
  }

  /** How many times the socket was replaced after a disconnect. */
  get reconnects(): number {
    return this.#reopens;
  }

  /** Local time of the last message, ms since the epoch; 0 before any. */
  get lastMessageAtMs(): number {
    return this.#lastMessageAtMs;
  }

  /**
   * Loads the zeromq addon, connects and starts receiving. Resolves once subscribed: ZMQ
   * connects (and reconnects) in the background, so a publisher that starts later is picked up.
   *
   * @throws {Error} when started twice, or when the zeromq addon cannot load (permissions)
   */
  async start(): Promise<void> {
    if (this.#state !== "idle") {
      throw new Error(`Cannot start ZMQ listener: ${this.#state}`);
    }
    this.#state = "starting";
    try {
      this.#zmq = await loadZeromq();
    } catch (error) {
      this.#state = "idle";
      throw error;
    }
    if (this.#state !== "starting") return;
    this.#state = "running";
    this.#open();
    this.#log.info("zmq subscribed", { endpoint: this.#options.endpoint, topic: HASHBLOCK_TOPIC });
  }

  /** Closes the socket and waits for its loops to end. */
  async close(): Promise<void> {
    this.#state = "closed";
    this.#socket?.close();
    this.#socket = undefined;
    while (this.#loops.size > 0) await Promise.all([...this.#loops]);
  }

  #open(): void {
    const zmq = this.#zmq!;
    const heartbeatIntervalMs = this.#options.heartbeatIntervalMs ?? 10_000;
    const socket = new zmq.Subscriber({
      heartbeatInterval: heartbeatIntervalMs,
      heartbeatTimeout: heartbeatIntervalMs * 3,
      reconnectInterval: 100,
      reconnectMaxInterval: 5_000,
      tcpKeepalive: 1,
      linger: 0,
    });
    socket.connect(this.#options.endpoint);
    socket.subscribe(HASHBLOCK_TOPIC);
    this.#socket = socket;
    this.#track(this.#receive(socket));
    this.#track(this.#watch(socket));
  }

  #track(loop: Promise<void>): void {
    this.#loops.add(loop);
    loop.finally(() => this.#loops.delete(loop));
  }

  async #receive(socket: Zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of socket) this.#handle(frames);
    } catch (error) {
      if (!socket.closed) {
        this.#log.error("zmq receive failed", {
          endpoint: this.#options.endpoint,
          error: String(error),
        });
      }
    }
  }

  /** Replaces the socket after its connection drops (see the class comment). */
  async #watch(socket: Zmq.Subscriber): Promise<void> {
    try {
      for await (const event of socket.events) {
        if (event.type === "connect") {
          this.#log.info("zmq connected", { endpoint: this.#options.endpoint });
        } else if (event.type === "disconnect" && this.#socket === socket) {
          this.#log.warn("zmq disconnected; reconnecting", { endpoint: this.#options.endpoint });
          this.#reopens++;
          socket.close();
          if (this.#state === "running") this.#open();
        }
      }
    } catch (error) {
      if (!socket.closed) {
        this.#log.error("zmq event monitor failed", {
          endpoint: this.#options.endpoint,
          error: String(error),
        });
      }
    }
  }

  #handle(frames: readonly Uint8Array[]): void {
    let message: HashBlockMessage;
    try {
      message = parseHashBlockMessage(frames);
    } catch (error) {
      this.#log.warn("zmq message ignored", {
        endpoint: this.#options.endpoint,
        error: (error as Error).message,
      });
      return;
    }
    this.#received++;
    this.#lastMessageAtMs = Date.now();
    const gap = this.#tracker.observe(message.sequence);
    this.#safely(() => this.#options.onBlock(message.hashHex, message.sequence));
    if (gap !== undefined) {
      this.#gaps++;
      this.#log.warn("zmq hashblock sequence gap", { endpoint: this.#options.endpoint, ...gap });
      const onGap = this.#options.onGap;
      if (onGap !== undefined) this.#safely(() => onGap(gap));
    }
  }

  #safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error("zmq callback threw", { error: String(error) });
    }
  }
}

async function loadZeromq(): Promise<typeof Zmq> {
  try {
    return await import("zeromq");
  } catch (error) {
    throw new Error(
      "Cannot start ZMQ listener: the zeromq addon did not load; run with --allow-ffi and " +
        "--allow-read for node_modules and /etc/alpine-release",
      { cause: error },
    );
  }
}
