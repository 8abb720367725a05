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
 * Needs `--allow-ffi` (the zeromq addon) besides `--allow-net` for the endpoint.
 *
 * @module
 */
import * as zmq from "zeromq";
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
    throw new SyntaxError(`Cannot read hashblock message: hash has ${hash.length} bytes, expected 32`);
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

/** Subscribes to `hashblock` on one endpoint. */
export class ZmqBlockListener {
  readonly #options: ZmqBlockListenerOptions;
  readonly #log: StructuredLogger;
  readonly #tracker = new SequenceTracker();
  #socket: zmq.Subscriber | undefined;
  #loop: Promise<void> | undefined;
  #received = 0;
  #gaps = 0;
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

  /** Local time of the last message, ms since the epoch; 0 before any. */
  get lastMessageAtMs(): number {
    return this.#lastMessageAtMs;
  }

  /**
   * Connects and starts receiving. Returns at once: ZMQ connects (and reconnects) in the
   * background, so a publisher that starts later is picked up.
   *
   * @throws {Error} when already started, or when the zeromq addon cannot load (`--allow-ffi`)
   */
  start(): void {
    if (this.#socket !== undefined) throw new Error("Cannot start ZMQ listener: already started");
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
    this.#loop = this.#receive(socket);
    this.#log.info("zmq subscribed", { endpoint: this.#options.endpoint, topic: HASHBLOCK_TOPIC });
  }

  /** Closes the socket and waits for the receive loop to end. */
  async close(): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#socket = undefined;
    socket.close();
    await this.#loop;
    this.#loop = undefined;
  }

  async #receive(socket: zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of socket) {
        this.#handle(frames);
      }
    } catch (error) {
      if (!socket.closed) {
        this.#log.error("zmq receive failed", {
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
