/**
 * Pipelined JetStream publishing: up to `maxInFlight` publishes awaiting their acks at once, sent
 * in order on one connection (so the server stores them in order), with the first failure
 * stopping further sends.
 *
 * Each event is a core NATS publish with a `Nats-Msg-Id` header and a reply subject
 * `<inbox>.<n>`; one wildcard subscription on `<inbox>.*` receives every ack, and one timer
 * watches the oldest outstanding publish for its deadline. This is JetStream's asynchronous
 * publish; the client's `js.publish()` instead makes a request (with its own timer and promise)
 * per message and reaches about a quarter of the throughput here.
 *
 * After a failure the caller calls `settle()`, which waits for every outstanding ack (or its
 * timeout) and returns the events that were not acknowledged, in send order. Acknowledged events
 * are never returned: re-sending one after the 2-minute de-duplication window would store it
 * twice. (If the server stored an event whose ack was lost, the re-send carries the same
 * `Nats-Msg-Id` and is dropped as a duplicate within the window.)
 *
 * @module
 */
import { createInbox, headers, type MsgHdrs } from "nats";
import type { OutboundEvent } from "./outbound_event.ts";

/** The parts of a reply message the window reads (a nats.js `Msg` has them). */
export interface AckMessage {
  /** The reply subject, `<inbox>.<n>`. */
  readonly subject: string;
  /** The JetStream reply body (a PubAck or an error, as JSON). */
  readonly data: Uint8Array;
  /** Present on status replies such as 503 no responders. */
  readonly headers?: { readonly code: number; readonly description: string } | undefined;
}

/** The ack subscription (a nats.js `Subscription` is one). */
export interface AckSubscription {
  /** Settles when the subscription ends (unsubscribed, or the connection closed). */
  readonly closed: Promise<unknown>;
  /** Stops delivery. */
  unsubscribe(): void;
}

/** What the window needs from a NATS connection (a nats.js `NatsConnection` has it). */
export interface AckedPublisher {
  /** Core publish with headers and a reply subject. */
  publish(
    subject: string,
    payload: Uint8Array,
    options: { readonly headers: MsgHdrs; readonly reply: string },
  ): void;
  /** Subscribes with a callback. */
  subscribe(
    subject: string,
    options: { readonly callback: (error: Error | null, message: AckMessage) => void },
  ): AckSubscription;
}

/** What {@linkcode PublishWindow.settle} reports. */
export interface SettleResult {
  /** Events acknowledged since the window was made or last settled. */
  readonly acked: number;
  /** Events whose publish failed, in send order. */
  readonly unacked: OutboundEvent[];
  /** The first failure, or `null` when every publish was acknowledged. */
  readonly error: Error | null;
}

/** Callbacks for metrics; called once per publish outcome. */
export interface PublishWindowHooks {
  /** An event was acknowledged (stored, or recognised as a duplicate). */
  readonly acked: () => void;
  /** A publish failed (timeout, no responders, connection closed, JetStream error). */
  readonly failed: (error: Error) => void;
}

interface Pending {
  readonly order: number;
  readonly event: OutboundEvent;
  readonly deadlineMs: number;
}

interface Failure {
  readonly order: number;
  readonly event: OutboundEvent;
}

const utf8Decoder = new TextDecoder();

/**
 * Reads a JetStream publish reply.
 *
 * @returns null for an ack, else the error it reports.
 */
export function pubAckError(message: AckMessage): Error | null {
  const code = message.headers?.code ?? 0;
  if (code >= 300) {
    return new Error(
      code === 503
        ? "Cannot publish event: no JetStream stream answers for the subject (503 no responders)"
        : `Cannot publish event: status ${code} ${message.headers?.description ?? ""}`.trimEnd(),
    );
  }
  let reply: unknown;
  try {
    reply = JSON.parse(utf8Decoder.decode(message.data));
  } catch {
    return new Error("Cannot publish event: the JetStream reply is not JSON");
  }
  if (typeof reply !== "object" || reply === null) {
    return new Error("Cannot publish event: the JetStream reply is not an object");
  }
  const fields = reply as { error?: { code?: unknown; description?: unknown }; stream?: unknown };
  if (fields.error !== undefined) {
    return new Error(
      `Cannot publish event: JetStream error ${String(fields.error.code)} ` +
        String(fields.error.description ?? ""),
    );
  }
  if (typeof fields.stream !== "string" || fields.stream === "") {
    return new Error("Cannot publish event: the JetStream reply names no stream");
  }
  return null;
}

/** A bounded set of in-flight JetStream publishes on one connection. */
export class PublishWindow {
  /** Most publishes awaiting acks at once. */
  readonly maxInFlight: number;
  readonly #nc: AckedPublisher;
  readonly #timeoutMs: number;
  readonly #hooks: PublishWindowHooks;
  readonly #inbox: string;
  readonly #subscription: AckSubscription;
  readonly #now: () => number;
  /** In send order (Map keeps insertion order), keyed by the reply token. */
  readonly #pending = new Map<number, Pending>();
  #sent = 0;
  #acked = 0;
  #failures: Failure[] = [];
  #firstError: Error | null = null;
  #waiter: (() => void) | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;

  /**
   * Subscribes to this window's ack inbox.
   *
   * @param nc the connection to publish on.
   * @param maxInFlight most outstanding publishes.
   * @param timeoutMs how long each publish waits for its ack.
   * @param hooks per-outcome callbacks.
   * @param now monotonic milliseconds; `performance.now` unless given.
   * @throws {RangeError} when `maxInFlight` is not a positive integer.
   * @throws the client's error when the connection is closed.
   */
  constructor(
    nc: AckedPublisher,
    maxInFlight: number,
    timeoutMs: number,
    hooks: PublishWindowHooks,
    now: () => number = () => performance.now(),
  ) {
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) {
      throw new RangeError(`Cannot create publish window: ${maxInFlight} is not a positive size`);
    }
    this.#nc = nc;
    this.maxInFlight = maxInFlight;
    this.#timeoutMs = timeoutMs;
    this.#hooks = hooks;
    this.#now = now;
    this.#inbox = createInbox();
    this.#subscription = nc.subscribe(`${this.#inbox}.*`, {
      callback: (error, message) => {
        if (error === null) this.#onReply(message);
      },
    });
    // The subscription ends when the connection closes: nothing in flight can be acked then.
    this.#subscription.closed.then(() => {
      if (!this.#closed) this.#failAll(new Error("Cannot publish event: the connection closed"));
    });
  }

  /** Publishes awaiting acks. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** True once any publish failed (until `settle()`). */
  get failed(): boolean {
    return this.#failures.length > 0;
  }

  /** True when `send` may be called: below the limit, nothing failed, not closed. */
  get hasRoom(): boolean {
    return this.#pending.size < this.maxInFlight && this.#failures.length === 0 && !this.#closed;
  }

  /**
   * Publishes one event with `Nats-Msg-Id` = its event id. A publish the client refuses at once
   * (closed connection) counts as failed, like one whose ack never comes.
   *
   * @throws {RangeError} when there is no room (check `hasRoom` first).
   */
  send(event: OutboundEvent): void {
    if (!this.hasRoom) {
      throw new RangeError("Cannot publish: the window is full, closed, or a publish failed");
    }
    const order = this.#sent++;
    const pending: Pending = { order, event, deadlineMs: this.#now() + this.#timeoutMs };
    this.#pending.set(order, pending);
    const header = headers();
    header.set("Nats-Msg-Id", event.msgId);
    try {
      this.#nc.publish(event.subject, event.payload, {
        headers: header,
        reply: `${this.#inbox}.${order}`,
      });
    } catch (error) {
      this.#fail(pending, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.#timer === null) this.#armTimer();
  }

  #onReply(message: AckMessage): void {
    const token = message.subject.slice(this.#inbox.length + 1);
    const pending = this.#pending.get(Number(token));
    if (pending === undefined) return; // already timed out: counted as failed
    const error = pubAckError(message);
    if (error !== null) {
      this.#fail(pending, error);
      return;
    }
    this.#pending.delete(pending.order);
    this.#acked++;
    this.#hooks.acked();
    this.#outcome();
  }

  #fail(pending: Pending, error: Error): void {
    this.#pending.delete(pending.order);
    if (this.#failures.length === 0) this.#firstError = error;
    this.#failures.push({ order: pending.order, event: pending.event });
    this.#hooks.failed(error);
    this.#outcome();
  }

  #failAll(error: Error): void {
    for (const pending of [...this.#pending.values()]) this.#fail(pending, error);
  }

  #outcome(): void {
    if (this.#pending.size === 0 && this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter();
    }
  }

  /** Arms the timer for the oldest outstanding publish (the first in the map). */
  #armTimer(): void {
    const oldest = this.#pending.values().next();
    if (oldest.done) return;
    const waitMs = Math.max(0, oldest.value.deadlineMs - this.#now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const now = this.#now();
      for (const pending of [...this.#pending.values()]) {
        if (pending.deadlineMs > now) break;
        this.#fail(pending, new Error(`Cannot publish event: no ack within ${this.#timeoutMs} ms`));
      }
      if (this.#timer === null && this.#pending.size > 0) this.#armTimer();
    }, waitMs);
  }

  /** Resolves at the next publish outcome (at once when nothing is in flight). */
  nextOutcome(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#waiter;
      this.#waiter = previous === null ? resolve : () => {
        previous();
        resolve();
      };
    });
  }

  /**
   * Waits for every outstanding publish (each ends by its ack or its timeout), then reports and
   * resets (the window may be used again).
   */
  async settle(): Promise<SettleResult> {
    while (this.#pending.size > 0) await this.nextOutcome();
    const unacked = this.#failures.sort((a, b) => a.order - b.order).map((f) => f.event);
    const result: SettleResult = { acked: this.#acked, unacked, error: this.#firstError };
    this.#failures = [];
    this.#firstError = null;
    this.#acked = 0;
    return result;
  }

  /**
   * Settles, then stops listening for acks.
   *
   * @returns what `settle()` reports.
   */
  async close(): Promise<SettleResult> {
    const result = await this.settle();
    this.#closed = true;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#subscription.unsubscribe();
    return result;
  }
}
