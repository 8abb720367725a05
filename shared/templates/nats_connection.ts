/**
 * A NATS connection that is made in the background and kept: the first connection is retried
 * until it succeeds (the service starts whether NATS is up or not), the client then reconnects
 * by itself, and a connection that closes for good is replaced. Users register listeners and are
 * told about every (re)connection, so they can subscribe again or republish state.
 *
 * Unlike the event emitter's link (automatic reconnect off, so a spooled event can never be sent
 * twice), templates, heartbeats and block submissions want the client's reconnect: a late
 * template is simply superseded, and subscriptions are restored by the client.
 *
 * @module
 */
import { connect, type ConnectionOptions, type NatsConnection } from "nats";
import type { StructuredLogger } from "../log/mod.ts";

/** Settings of {@link PersistentNatsConnection}. */
export interface PersistentNatsConnectionOptions {
  /** Server URLs (`nats://host:port`), tried in order. */
  readonly servers: readonly string[];
  /** Connection name shown by the server, e.g. `stratum-eu-0-templates`. */
  readonly name: string;
  readonly log: StructuredLogger;
  /** Longest wait for one connection attempt, ms (default 2,000). */
  readonly connectTimeoutMs?: number;
  /** Wait between failed attempts and between the client's reconnect attempts, ms (default 1,000). */
  readonly retryDelayMs?: number;
  /**
   * Client ping interval, ms (default 5,000): two unanswered pings close a silent link, so a
   * half-open TCP connection is noticed within about three intervals.
   */
  readonly pingIntervalMs?: number;
  /** Extra client options (credentials, TLS); servers, name and the reconnect policy are set here. */
  readonly connectOptions?: Partial<ConnectionOptions>;
}

/** Why a listener is called: a new connection, or the client reconnected the current one. */
export type ConnectKind = "connect" | "reconnect";

/** Called with the connection each time it becomes usable. */
export type ConnectedListener = (connection: NatsConnection, kind: ConnectKind) => void;

/** Default longest wait for one connection attempt, ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;
/** Default wait between connection attempts, ms. */
export const DEFAULT_RETRY_DELAY_MS = 1_000;
/** Default client ping interval, ms. */
export const DEFAULT_PING_INTERVAL_MS = 5_000;
/** Failed first-connection attempts logged at warning level: the first, then every n-th. */
const WARN_EVERY_ATTEMPTS = 30;

/** One NATS connection, made in the background and kept until {@link close}. */
export class PersistentNatsConnection {
  readonly #options: PersistentNatsConnectionOptions;
  readonly #log: StructuredLogger;
  readonly #retryDelayMs: number;
  readonly #connected = new Set<ConnectedListener>();
  readonly #disconnected = new Set<() => void>();
  #connection: NatsConnection | null = null;
  #usable = false;
  #state: "idle" | "running" | "closed" = "idle";
  #run: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param options servers, name, logger, timing
   * @throws {RangeError} when no server is given or a timing is not positive
   */
  constructor(options: PersistentNatsConnectionOptions) {
    if (options.servers.length === 0) {
      throw new RangeError("Cannot create NATS connection: no server URL given");
    }
    for (
      const [name, value] of [
        ["connectTimeoutMs", options.connectTimeoutMs],
        ["retryDelayMs", options.retryDelayMs],
        ["pingIntervalMs", options.pingIntervalMs],
      ] as const
    ) {
      if (value !== undefined && !(value > 0 && Number.isFinite(value))) {
        throw new RangeError(`Cannot create NATS connection: ${name} must be positive`);
      }
    }
    this.#options = options;
    this.#log = options.log;
    this.#retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  }

  /** The connection while it is usable (connected, not reconnecting), else null. */
  get connection(): NatsConnection | null {
    return this.#usable ? this.#connection : null;
  }

  /** Connected now (not reconnecting, not closed). */
  get connected(): boolean {
    return this.#usable;
  }

  /** Starts connecting in the background; returns at once. Idempotent. */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#run = this.#loop();
  }

  /**
   * Registers a listener for every (re)connection; it is also called at once when connected.
   *
   * @returns a function that removes the listener
   */
  onConnected(listener: ConnectedListener): () => void {
    this.#connected.add(listener);
    if (this.#usable && this.#connection !== null) {
      this.#call(listener, this.#connection, "connect");
    }
    return () => this.#connected.delete(listener);
  }

  /**
   * Registers a listener for every loss of the connection (disconnect or close).
   *
   * @returns a function that removes the listener
   */
  onDisconnected(listener: () => void): () => void {
    this.#disconnected.add(listener);
    return () => this.#disconnected.delete(listener);
  }

  /** Closes the connection (flushing what it buffered) and stops reconnecting. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    const wasRunning = this.#state === "running";
    this.#state = "closed";
    clearTimeout(this.#timer);
    this.#wake?.();
    const connection = this.#connection;
    this.#setUsable(false);
    if (connection !== null && !connection.isClosed()) {
      await connection.close().catch(() => undefined);
    }
    if (wasRunning) await this.#run;
  }

  #call(listener: ConnectedListener, connection: NatsConnection, kind: ConnectKind): void {
    try {
      listener(connection, kind);
    } catch (error) {
      this.#log.error("NATS connection listener threw", { error: String(error) });
    }
  }

  #setUsable(usable: boolean): void {
    const was = this.#usable;
    this.#usable = usable;
    if (was && !usable) {
      for (const listener of [...this.#disconnected]) {
        try {
          listener();
        } catch (error) {
          this.#log.error("NATS disconnect listener threw", { error: String(error) });
        }
      }
    }
  }

  #notify(kind: ConnectKind): void {
    const connection = this.#connection;
    if (connection === null) return;
    this.#setUsable(true);
    for (const listener of [...this.#connected]) this.#call(listener, connection, kind);
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#state !== "running") return;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    });
    this.#wake = undefined;
    this.#timer = undefined;
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (this.#state === "running") {
      let connection: NatsConnection;
      try {
        connection = await connect({
          ...this.#options.connectOptions,
          servers: [...this.#options.servers],
          name: this.#options.name,
          timeout: this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: this.#retryDelayMs,
          pingInterval: this.#options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
          maxPingOut: 2,
          noEcho: true,
        });
      } catch (error) {
        failures++;
        const level = failures % WARN_EVERY_ATTEMPTS === 1 ? "warn" : "debug";
        this.#log[level]("cannot connect to NATS, retrying", {
          servers: this.#options.servers,
          attempt: failures,
          retryInMs: this.#retryDelayMs,
          error: error instanceof Error ? error.message : String(error),
        });
        await this.#sleep(this.#retryDelayMs);
        continue;
      }
      if (this.#state !== "running") {
        await connection.close().catch(() => undefined);
        return;
      }
      failures = 0;
      this.#connection = connection;
      this.#log.info("connected to NATS", { server: connection.getServer() });
      // Not awaited: the status iterator of a closed connection is not guaranteed to end.
      this.#watch(connection).catch(() => undefined);
      this.#notify("connect");
      const closedWith = await connection.closed();
      this.#connection = null;
      this.#setUsable(false);
      if (this.#state !== "running") return;
      this.#log.warn("NATS connection closed, connecting again", {
        error: closedWith instanceof Error ? closedWith.message : null,
        retryInMs: this.#retryDelayMs,
      });
      await this.#sleep(this.#retryDelayMs);
    }
  }

  async #watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (connection !== this.#connection) return;
      switch (status.type) {
        case "disconnect":
          this.#log.warn("NATS disconnected", { server: status.server });
          this.#setUsable(false);
          break;
        case "reconnect":
          this.#log.info("NATS reconnected", { server: status.server });
          this.#notify("reconnect");
          break;
        case "close":
          return;
        default:
          break;
      }
    }
  }
}

/** Server URLs from a `nats_url` config value (comma-separated). */
export function natsServers(natsUrl: string): string[] {
  return natsUrl.split(",").map((entry) => entry.trim()).filter((entry) => entry.length > 0);
}
