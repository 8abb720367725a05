/**
 * ZMQ publisher with Core's zmqpubhashblock message format: three frames, "hashblock", the
 * 32-byte block hash in display (RPC) byte order, and a 4-byte little-endian sequence number
 * that starts at 0 and counts messages on this topic.
 *
 * @module
 */
import * as zmq from "zeromq";
import { fromHex, u32le } from "./bytes.ts";

/** Publishes hashblock notifications; sends are serialized because a zeromq socket allows one at a time. */
export class HashBlockPublisher {
  readonly #socket: zmq.Publisher;
  #sequence = 0;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(socket: zmq.Publisher, readonly endpoint: string) {
    this.#socket = socket;
  }

  /**
   * Binds a publisher on 127.0.0.1 (port 0 picks a free port).
   *
   * @throws {Error} when the port cannot be bound.
   */
  static async bind(host: string, port: number): Promise<HashBlockPublisher> {
    const socket = new zmq.Publisher();
    await socket.bind(`tcp://${host}:${port === 0 ? "*" : port}`);
    const endpoint = socket.lastEndpoint;
    if (!endpoint) throw new Error("Cannot bind ZMQ publisher: no endpoint reported");
    return new HashBlockPublisher(socket, endpoint);
  }

  /** Number of hashblock messages sent so far (the next sequence number). */
  get sequence(): number {
    return this.#sequence;
  }

  /** Queues a hashblock message for a display-order block hash. */
  publish(blockHashHex: string): Promise<void> {
    const hash = fromHex(blockHashHex);
    const sequence = u32le(this.#sequence++);
    this.#queue = this.#queue.then(async () => {
      if (this.#closed) return;
      await this.#socket.send([new TextEncoder().encode("hashblock"), hash, sequence]);
    });
    return this.#queue;
  }

  /** Waits for queued sends and closes the socket. */
  async close(): Promise<void> {
    await this.#queue.catch(() => undefined);
    this.#closed = true;
    this.#socket.close();
  }
}
