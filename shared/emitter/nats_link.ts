/**
 * The emitter's own NATS connection, made on demand and replaced when it closes.
 *
 * The client's automatic reconnect is off on purpose: while reconnecting it buffers outgoing
 * messages and sends them later, so a publish the emitter had already written off (and spooled)
 * could still reach the stream ahead of events spooled before it. With reconnect off, a lost
 * connection fails every in-flight publish at once, and the emitter's replay loop decides when
 * to connect again.
 *
 * @module
 */
import { connect, type NatsConnection } from "nats";

/** Opens a new NATS connection. */
export type NatsConnector = () => Promise<NatsConnection>;

/** Settings of {@linkcode natsConnector}. */
export interface NatsConnectorOptions {
  /** Server URLs, tried in order. */
  readonly servers: readonly string[];
  /** Connection name shown by the server (e.g. the instance id). */
  readonly name: string;
  /** Longest wait for one connection attempt. */
  readonly connectTimeoutMs: number;
}

/** Seconds between client pings; two unanswered pings close a silent connection. */
const PING_INTERVAL_MS = 10_000;

/**
 * A connector for the emitter: no automatic reconnect, no echo, pings every 10 s.
 *
 * @returns a function that opens one connection per call.
 */
export function natsConnector(options: NatsConnectorOptions): NatsConnector {
  return () =>
    connect({
      servers: [...options.servers],
      name: options.name,
      timeout: options.connectTimeoutMs,
      reconnect: false,
      noEcho: true,
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: 2,
    });
}

/** Holds at most one open connection. */
export class NatsLink {
  readonly #connector: NatsConnector;
  #connection: NatsConnection | null = null;

  /** @param connector opens connections. */
  constructor(connector: NatsConnector) {
    this.#connector = connector;
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.#connection !== null && !this.#connection.isClosed();
  }

  /**
   * The open connection, connecting first when there is none (or it closed).
   *
   * @throws the connector's error when no server accepts the connection.
   */
  async connection(): Promise<NatsConnection> {
    if (this.#connection !== null && !this.#connection.isClosed()) return this.#connection;
    await this.close();
    this.#connection = await this.#connector();
    return this.#connection;
  }

  /** Closes the connection, if any. */
  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = null;
    if (connection !== null && !connection.isClosed()) await connection.close();
  }
}
