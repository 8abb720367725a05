/**
 * The primary's side of template distribution: every template the pool installs, with its
 * clean_jobs decision, goes into the last-value stream MINING_TEMPLATES twice: on
 * `mining.templates.{network}.live` as a delta against the template sent before it (or in full
 * when that is smaller, as after a new block), which relays follow; and in full on
 * `mining.templates.{network}`, which relays fetch when they start or miss a delta's base. A
 * heartbeat goes to `mining.heartbeat.{region}` every `heartbeatIntervalMs`.
 *
 * The delta's base is the last template whose live message JetStream stored, chosen when the
 * send starts (one send at a time): relays hold that template, or fetch the full one. A refresh
 * of a 2,000-transaction template that adds a few transactions is then a few kB instead of
 * about 560 kB on every region link.
 *
 * {@link TemplatePublisher.publish} is called on the pool's template path and never blocks or
 * throws: it encodes the template in full and as a delta (about 1 ms and 0.3–0.8 ms for 2,000
 * transactions), hands the bytes to the NATS client, and returns. Acknowledgement, retries (bounded, with backoff) and reconnects happen in
 * the background. Only the newest template matters: a template that is still unacknowledged when
 * a newer one arrives is dropped (its clean_jobs flag carries over), and after a reconnect the
 * current template is published again (the stream de-duplicates by message id).
 *
 * Ownership: one publisher per primary network. With several pool processes on one host
 * (`reuse_port`), enable publishing in one of them only, or relays see interleaved sequences.
 *
 * @module
 */
import { jetstream, type JetStreamClient, jetstreamManager } from "nats/jetstream";
import type { NatsConnection } from "nats";
import type { TemplateReason, TemplateTrigger } from "../bitcoind/template_source.ts";
import { type Clock, systemClock } from "../engine/clock.ts";
import type { BlockTemplate } from "../engine/template.ts";
import type { StructuredLogger } from "../log/mod.ts";
import { heartbeatSubject, templateLiveSubject, templateSubject } from "../nats/subjects.ts";
import { encodeHeartbeat } from "./heartbeat.ts";
import type { PersistentNatsConnection } from "./nats_connection.ts";
import {
  encodeTemplateMessage,
  type TemplateContent,
  type TemplateMessageMeta,
} from "./template_codec.ts";
import { encodeTemplateDelta, type TemplateBase, TemplateWireKind } from "./template_delta.ts";
import { fitTemplateMessage } from "./template_fit.ts";
import type { TemplatePublisherMetrics } from "./template_metrics.ts";
import { MINING_TEMPLATES_STREAM_NAME, templatesStreamConfig } from "./template_stream.ts";

/** Default heartbeat interval, ms. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;
/** Default wait for JetStream's acknowledgement of one template, ms. */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 2_000;
/** Default attempts per template before it is given up (until the next template or reconnect). */
export const DEFAULT_PUBLISH_ATTEMPTS = 5;
/** Room left under the server's max_payload for the message headers. */
const HEADER_ROOM_BYTES = 1024;
/** First retry delay, ms; doubles per attempt up to {@link MAX_RETRY_DELAY_MS}. */
const FIRST_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 2_000;
/** Repeated stream set-up failures are logged at error level once per this many attempts. */
const LOG_EVERY_FAILURES = 30;
/** Wait before setting up the stream again after a failure, ms. */
const STREAM_RETRY_DELAY_MS = 2_000;

/** Settings and dependencies of {@link TemplatePublisher}. */
export interface TemplatePublisherOptions {
  /** The NATS connection to publish on (started by the caller; shared with the responder). */
  readonly link: PersistentNatsConnection;
  /** Network token for `mining.templates.{network}`. */
  readonly network: string;
  /** The primary's region, for the heartbeat subject and the messages' origin. */
  readonly region: string;
  /** Instance name carried in heartbeats. */
  readonly instance: string;
  readonly log: StructuredLogger;
  /** Heartbeat interval, ms ({@link DEFAULT_HEARTBEAT_INTERVAL_MS} unless given). */
  readonly heartbeatIntervalMs?: number;
  /** Whether the primary's own template source is healthy, reported in heartbeats. */
  readonly templatesHealthy?: () => boolean;
  readonly metrics?: TemplatePublisherMetrics;
  /** Time source for stamps and the epoch (the process clock unless given). */
  readonly clock?: Clock;
  /** Wait for JetStream's acknowledgement, ms. */
  readonly publishTimeoutMs?: number;
  /** Attempts per template. */
  readonly maxAttempts?: number;
}

/** What the pool knows about a template besides its content. */
export interface PublishInfo {
  readonly reason: TemplateReason;
  readonly source: TemplateTrigger;
  /** When the template arrived from bitcoind, ms since the epoch. */
  readonly receivedAtMs: number;
}

/** What relays following the live subject are sent for one template. */
interface LiveMessage {
  readonly kind: TemplateWireKind;
  readonly bytes: Uint8Array;
}

interface Outgoing {
  readonly meta: TemplateMessageMeta;
  /** The template as sent (cut to fit when it had to be): the next delta's base. */
  readonly template: TemplateContent;
  /** The template in full. */
  readonly bytes: Uint8Array;
  readonly msgId: string;
  /** Made at the first send, against the template relays hold then; kept for every retry. */
  live: LiveMessage | null;
  /** JetStream stored the live message (retries resend it; its id makes that harmless). */
  liveStored: boolean;
  attempts: number;
  acked: boolean;
}

/** A publish that no stream took (no responders on the subject). */
function isNoStream(error: unknown): boolean {
  return error instanceof Error && /no responders|not enabled/i.test(error.message);
}

/** Publishes the primary's templates and heartbeats for relays. */
export class TemplatePublisher {
  readonly #link: PersistentNatsConnection;
  readonly #network: string;
  readonly #region: string;
  readonly #instance: string;
  readonly #log: StructuredLogger;
  readonly #clock: Clock;
  readonly #metrics: TemplatePublisherMetrics | undefined;
  readonly #heartbeatIntervalMs: number;
  readonly #publishTimeoutMs: number;
  readonly #maxAttempts: number;
  readonly #templatesHealthy: () => boolean;
  readonly #subject: string;
  readonly #liveSubject: string;
  readonly #heartbeatSubject: string;
  readonly #epoch: number;

  #state: "idle" | "running" | "stopped" = "idle";
  #sequence = 0;
  #heartbeatSequence = 0;
  #lastPrevHashHex: string | null = null;
  #current: Outgoing | null = null;
  /** The last template whose live message was stored: what relays hold, the next base. */
  #lastLive: TemplateBase | null = null;
  #lastAckedSequence = 0;
  #inFlight: Promise<void> | undefined;
  #js: JetStreamClient | null = null;
  #streamReady = false;
  #streamFailures = 0;
  #streamSetup: Promise<void> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #sendRetryTimer: ReturnType<typeof setTimeout> | undefined;
  #streamRetryTimer: ReturnType<typeof setTimeout> | undefined;
  #unsubscribe: (() => void)[] = [];

  /**
   * @param options link, network, region, instance, logger and tuning
   * @throws {RangeError} when the network or region is not a subject token, or a timing is not
   *   positive
   */
  constructor(options: TemplatePublisherOptions) {
    this.#subject = templateSubject(options.network);
    this.#liveSubject = templateLiveSubject(options.network);
    this.#heartbeatSubject = heartbeatSubject(options.region);
    this.#link = options.link;
    this.#network = options.network;
    this.#region = options.region;
    this.#instance = options.instance;
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#metrics = options.metrics;
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.#publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    this.#maxAttempts = options.maxAttempts ?? DEFAULT_PUBLISH_ATTEMPTS;
    this.#templatesHealthy = options.templatesHealthy ?? (() => true);
    for (
      const [name, value] of [
        ["heartbeatIntervalMs", this.#heartbeatIntervalMs],
        ["publishTimeoutMs", this.#publishTimeoutMs],
        ["maxAttempts", this.#maxAttempts],
      ] as const
    ) {
      if (!(value > 0 && Number.isFinite(value))) {
        throw new RangeError(`Cannot create template publisher: ${name} must be positive`);
      }
    }
    this.#epoch = Math.floor(this.#clock.nowMs());
  }

  /** This run's epoch (start time, ms): the first half of every message's order. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Sequence of the last template handed to {@link publish}; 0 before the first. */
  get sequence(): number {
    return this.#sequence;
  }

  /** Sequence of the last template JetStream acknowledged; 0 before the first. */
  get lastAckedSequence(): number {
    return this.#lastAckedSequence;
  }

  /** Starts heartbeats and reacts to (re)connections of the link. Idempotent. */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#unsubscribe.push(
      this.#link.onConnected((connection) => this.#onConnected(connection)),
      this.#link.onDisconnected(() => {
        this.#js = null;
        this.#streamReady = false;
      }),
    );
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(), this.#heartbeatIntervalMs);
  }

  /**
   * Publishes a template the pool is about to install. Never throws and never waits: failures
   * are logged and counted, and retried in the background.
   *
   * @param template the template, as the engine will get it
   * @param info reason, trigger and arrival time from the template source
   * @returns the message metadata (sequence, clean flag, send stamp), or null when it could
   *   not be encoded or the publisher is stopped
   */
  publish(template: BlockTemplate, info: PublishInfo): TemplateMessageMeta | null {
    if (this.#state !== "running") return null;
    try {
      const previous = this.#current;
      // Same rule as the job manager (clean when the previous block changes); a clean template
      // that was never acknowledged passes its flag on, since relays may not have seen it.
      const cleanJobs = this.#lastPrevHashHex !== template.prevHashHex ||
        (previous !== null && !previous.acked && previous.meta.cleanJobs);
      const meta: TemplateMessageMeta = {
        epoch: this.#epoch,
        sequence: this.#sequence + 1,
        sentAtMs: this.#clock.nowMs(),
        templateAtMs: info.receivedAtMs,
        reason: info.reason,
        source: info.source,
        cleanJobs,
        originRegion: this.#region,
        network: this.#network,
      };
      const fitted = fitTemplateMessage({ ...meta, template }, this.#maxPayloadBytes());
      if (fitted.droppedTransactions > 0) {
        this.#metrics?.templatesTrimmed.inc();
        this.#log.warn("template cut to fit the NATS max_payload", {
          sequence: meta.sequence,
          transactions: template.transactions.length,
          dropped: fitted.droppedTransactions,
          bytes: fitted.sizeBytes,
          maxBytes: this.#maxPayloadBytes(),
        });
      }
      const bytes = encodeTemplateMessage(fitted.message);
      this.#sequence = meta.sequence;
      this.#lastPrevHashHex = template.prevHashHex;
      this.#metrics?.templateMessageBytes.set(bytes.length);
      this.#current = {
        meta,
        template: fitted.message.template,
        bytes,
        msgId: `${this.#epoch}-${meta.sequence}`,
        live: null,
        liveStored: false,
        attempts: 0,
        acked: false,
      };
      clearTimeout(this.#sendRetryTimer);
      this.#sendRetryTimer = undefined;
      this.#kick();
      return meta;
    } catch (error) {
      this.#metrics?.templatePublishFailures.inc();
      this.#log.error("cannot publish template", {
        height: template.height,
        error: error instanceof Error ? error.message : String(error),
      });
      return null;
    }
  }

  /** Stops heartbeats and retries; waits (bounded by the publish timeout) for the send in flight. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#sendRetryTimer);
    clearTimeout(this.#streamRetryTimer);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
    await Promise.all([this.#inFlight, this.#streamSetup]);
  }

  /** The server's payload limit less room for headers; the codec's own cap before connecting. */
  #maxPayloadBytes(): number {
    const limit = this.#link.connection?.info?.max_payload;
    return typeof limit === "number" && limit > HEADER_ROOM_BYTES
      ? limit - HEADER_ROOM_BYTES
      : Number.MAX_SAFE_INTEGER;
  }

  #onConnected(connection: NatsConnection): void {
    if (this.#state !== "running") return;
    this.#js = jetstream(connection, { timeout: this.#publishTimeoutMs });
    this.#streamReady = false;
    this.#setUpStream(connection);
  }

  /**
   * Sets the stream up (once at a time). `fresh`: after a (re)connection, so the current template
   * gets a full set of attempts again; after a failed publish its attempts keep counting.
   */
  #setUpStream(connection: NatsConnection, fresh = true): void {
    if (this.#streamSetup !== undefined) return;
    this.#streamSetup = this.#ensureStream(connection, fresh).finally(() => {
      this.#streamSetup = undefined;
      // The link moved to another connection meanwhile: set the stream up on that one.
      const current = this.#link.connection;
      if (
        this.#state === "running" && !this.#streamReady && current !== null &&
        current !== connection && this.#streamRetryTimer === undefined
      ) {
        this.#setUpStream(current);
      }
    });
  }

  async #ensureStream(connection: NatsConnection, fresh: boolean): Promise<void> {
    try {
      const jsm = await jetstreamManager(connection, { timeout: this.#publishTimeoutMs });
      try {
        await jsm.streams.add(templatesStreamConfig());
      } catch (error) {
        // An existing stream with other settings (e.g. an older max_age): bring it in line.
        if (!/already in use/i.test(String(error))) throw error;
        await jsm.streams.update(MINING_TEMPLATES_STREAM_NAME, templatesStreamConfig());
      }
    } catch (error) {
      if (this.#state !== "running" || connection !== this.#link.connection) return;
      this.#streamFailures++;
      const level = this.#streamFailures % LOG_EVERY_FAILURES === 1 ? "error" : "debug";
      this.#log[level]("cannot set up the templates stream, retrying", {
        stream: MINING_TEMPLATES_STREAM_NAME,
        attempt: this.#streamFailures,
        error: error instanceof Error ? error.message : String(error),
        retryInMs: STREAM_RETRY_DELAY_MS,
      });
      this.#streamRetryTimer = setTimeout(() => {
        this.#streamRetryTimer = undefined;
        const current = this.#link.connection;
        if (this.#state === "running" && current !== null) this.#setUpStream(current);
      }, STREAM_RETRY_DELAY_MS);
      return;
    }
    if (this.#state !== "running" || connection !== this.#link.connection) return;
    this.#streamReady = true;
    this.#streamFailures = 0;
    // After a reconnect the current template is sent again: the stream may have restarted
    // without it, and its message id makes a second copy harmless.
    if (this.#current !== null && fresh) {
      this.#current.acked = false;
      this.#current.attempts = 0;
    }
    this.#kick();
  }

  /** Sends the current template when it is unacknowledged and nothing is in flight. */
  #kick(): void {
    const entry = this.#current;
    const js = this.#js;
    if (
      this.#state !== "running" || entry === null || entry.acked || js === null ||
      !this.#streamReady || this.#inFlight !== undefined || this.#sendRetryTimer !== undefined
    ) {
      return;
    }
    this.#inFlight = this.#send(js, entry).finally(() => {
      this.#inFlight = undefined;
      if (this.#current !== entry) this.#kick();
    });
  }

  /** The delta against the template relays hold when it is smaller, else the full template. */
  #liveMessage(entry: Outgoing): LiveMessage {
    const base = this.#lastLive;
    if (base !== null && base.epoch === entry.meta.epoch && base.sequence < entry.meta.sequence) {
      try {
        const delta = encodeTemplateDelta({ ...entry.meta, template: entry.template }, base);
        if (delta.length < entry.bytes.length) {
          return { kind: TemplateWireKind.delta, bytes: delta };
        }
      } catch (error) {
        // The full template was encoded with the same checks, so this is a bug; relays still
        // get the template in full.
        this.#log.error("cannot encode template delta, sending it in full", {
          sequence: entry.meta.sequence,
          base: base.sequence,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    return { kind: TemplateWireKind.full, bytes: entry.bytes };
  }

  async #send(js: JetStreamClient, entry: Outgoing): Promise<void> {
    entry.attempts++;
    const live = entry.live ??= this.#liveMessage(entry);
    const options = { timeout: this.#publishTimeoutMs };
    // Live first: it is what relays wait for; the full copy only serves late joiners.
    const [liveResult, fullResult] = await Promise.allSettled([
      js.publish(this.#liveSubject, live.bytes, { ...options, msgID: `${entry.msgId}-live` }),
      js.publish(this.#subject, entry.bytes, { ...options, msgID: entry.msgId }),
    ]);
    if (liveResult.status === "fulfilled" && !entry.liveStored) {
      entry.liveStored = true;
      this.#lastLive = {
        epoch: entry.meta.epoch,
        sequence: entry.meta.sequence,
        template: entry.template,
      };
      if (!liveResult.value.duplicate) {
        this.#metrics?.templateBytesSent[live.kind].inc(live.bytes.length);
        this.#metrics?.templateMessagesSent[live.kind].inc();
      }
    }
    if (liveResult.status === "fulfilled" && fullResult.status === "fulfilled") {
      entry.acked = true;
      this.#lastAckedSequence = Math.max(this.#lastAckedSequence, entry.meta.sequence);
      this.#metrics?.templatesPublished.inc();
      this.#log.debug("template published", {
        sequence: entry.meta.sequence,
        streamSequence: fullResult.value.seq,
        duplicate: fullResult.value.duplicate,
        kind: live.kind,
        bytes: live.bytes.length,
        fullBytes: entry.bytes.length,
        ackMs: this.#clock.nowMs() - entry.meta.sentAtMs,
      });
      return;
    }
    const error = liveResult.status === "rejected"
      ? liveResult.reason
      : (fullResult as PromiseRejectedResult).reason;
    this.#metrics?.templatePublishFailures.inc();
    const superseded = this.#current !== entry;
    const giveUp = !superseded && entry.attempts >= this.#maxAttempts;
    (giveUp ? this.#log.error : this.#log.warn).call(this.#log, "template publish failed", {
      sequence: entry.meta.sequence,
      attempt: entry.attempts,
      subject: liveResult.status === "rejected" ? this.#liveSubject : this.#subject,
      superseded,
      givingUp: giveUp,
      error: error instanceof Error ? error.message : String(error),
    });
    if (this.#state !== "running" || superseded || giveUp) return;
    // Nothing stored the message: the stream is gone (deleted, or a hub without it). Set it up
    // again; that resends the current template.
    const connection = this.#link.connection;
    if (isNoStream(error) && connection !== null) {
      this.#streamReady = false;
      this.#setUpStream(connection, false);
      return;
    }
    const delayMs = Math.min(
      FIRST_RETRY_DELAY_MS * 2 ** (entry.attempts - 1),
      MAX_RETRY_DELAY_MS,
    );
    this.#sendRetryTimer = setTimeout(() => {
      this.#sendRetryTimer = undefined;
      this.#kick();
    }, delayMs);
  }

  #heartbeat(): void {
    const connection = this.#link.connection;
    if (this.#state !== "running" || connection === null) return;
    try {
      this.#heartbeatSequence++;
      connection.publish(
        this.#heartbeatSubject,
        encodeHeartbeat({
          region: this.#region,
          network: this.#network,
          instance: this.#instance,
          epoch: this.#epoch,
          sequence: this.#heartbeatSequence,
          sentAtMs: this.#clock.nowMs(),
          templateSequence: this.#sequence,
          templatesHealthy: this.#templatesHealthy(),
        }),
      );
      this.#metrics?.heartbeatsSent.inc();
    } catch (error) {
      this.#log.warn("heartbeat publish failed", { error: String(error) });
    }
  }
}
