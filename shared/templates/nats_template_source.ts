/**
 * A relay's template source: the primary's templates from NATS, and block submission to the
 * primary over NATS request/reply.
 *
 * - Templates: an ordered JetStream consumer on the MINING_TEMPLATES stream, filtered to
 *   `mining.templates.{network}.live` and starting at the last message, then each new one as it
 *   is published. A live message is a full template or a delta against the previous one; a
 *   delta is applied to the template held. When the relay holds no template or not the delta's
 *   base (it just started, or missed a message), it fetches the current full template from
 *   `mining.templates.{network}` (direct get) and applies what came meanwhile, so the current
 *   template still arrives at once on start and after every reconnect. Each fetch is counted by
 *   reason ({@link NatsTemplateSource.counters}, `ckpool_relay_template_full_fetches_total`).
 *   Messages are decoded and checked (network, order by epoch and sequence); each is handed on as
 *   a {@link PrimaryTemplateUpdate}, which carries the engine's BlockTemplate already built
 *   (`blockTemplateOf(update)`: no hex, no hashing on the relay), the primary's reason, trigger
 *   and clean_jobs decision, and the template latency.
 * - Heartbeats: a subscription to `mining.heartbeat.{primaryRegion}`; with templates they set
 *   {@link NatsTemplateSource.lastPrimaryContactAtMs}, which tells a lost primary from a quiet
 *   chain.
 * - {@link NatsTemplateSource.submitBlock}: a request on `mining.blocks.submit` answered by the
 *   primary's BlockSubmitResponder; the reply becomes a BlockSubmitResult (a timeout, no
 *   responder or an error reply become a result with `accepted: false` and the reason).
 *
 * Reconnecting is automatic (client reconnect, then a new connection if that one closes); the
 * consumer is set up again whenever it stops. Nothing here decides about independent mode: the
 * relay reads `lastPrimaryContactAtMs` and `healthy` and decides.
 *
 * ```ts
 * const source = new NatsTemplateSource({
 *   servers: ["nats://127.0.0.1:4222"], name: "relay-us-east-0-templates",
 *   network: "mainnet", region: "us-east", primaryRegion: "eu", log,
 * });
 * await source.start((update) => {
 *   engine.onTemplate(blockTemplateOf(update));
 *   if (isPrimaryTemplateUpdate(update) && !update.replayed) {
 *     relayMetrics.noteTemplateFromPrimary(update.sentAtMs, update.receivedAtMs);
 *   }
 * });
 * const result = await source.submitBlock(blockHex); // the primary's answer
 * await source.stop();
 * ```
 *
 * @module
 */
import { type ConnectionOptions, errors, type NatsConnection, type Subscription } from "nats";
import {
  type ConsumerMessages,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JsMsg,
  type StoredMsg,
} from "nats/jetstream";
import { sha256d } from "../bitcoin/hash.ts";
import { HEADER_BYTES } from "../bitcoin/header.ts";
import { hexToBytes } from "../bitcoin/hex.ts";
import type {
  BlockSubmitResult,
  TemplateSource,
  TemplateUpdate,
} from "../bitcoind/template_source.ts";
import { type Clock, systemClock } from "../engine/clock.ts";
import type { BlockTemplate } from "../engine/template.ts";
import type { StructuredLogger } from "../log/mod.ts";
import {
  assertSubjectToken,
  blockSubmitSubject,
  heartbeatSubject,
  regionInboxPrefix,
  templateLiveSubject,
  templateSubject,
} from "../nats/subjects.ts";
import {
  type BlockSubmitReply,
  coinbaseHeight,
  decodeBlockSubmitReply,
  displayHex,
  encodeBlockSubmitRequest,
} from "./block_submit_codec.ts";
import { decodeHeartbeat, type PrimaryHeartbeat } from "./heartbeat.ts";
import { PersistentNatsConnection } from "./nats_connection.ts";
import {
  blockTemplateOf,
  isPrimaryTemplateUpdate,
  PRIMARY_TEMPLATE,
  type PrimaryTemplateUpdate,
} from "./primary_template_update.ts";
import {
  blockTemplateFromMessage,
  type DecodedTemplateMessage,
  decodeTemplateMessage,
  DEFAULT_MAX_TEMPLATE_MESSAGE_BYTES,
  type TemplateGbt,
  type TemplateMessageMeta,
  templateToGbt,
} from "./template_codec.ts";
import {
  applyTemplateDelta,
  compareTemplateIds,
  type DecodedTemplateDelta,
  decodeTemplateDelta,
  type TemplateBase,
  TemplateBaseMismatchError,
  TemplateWireKind,
  templateWireKind,
} from "./template_delta.ts";
import {
  FullFetchReason,
  type RelayTemplateCounters,
  relayTemplateCounters,
} from "./template_metrics.ts";
import { MINING_TEMPLATES_STREAM_NAME } from "./template_stream.ts";

export { blockTemplateOf, isPrimaryTemplateUpdate, type PrimaryTemplateUpdate };
/** Default wait for the primary's reply to a block submission, ms. */
export const DEFAULT_SUBMIT_TIMEOUT_MS = 5_000;
/** Default: the source is healthy while the primary was heard from within this, ms. */
export const DEFAULT_PRIMARY_TIMEOUT_MS = 5_000;
/** Wait before setting up the consumer again after it stopped or could not start, ms. */
const CONSUMER_RETRY_DELAY_MS = 1_000;
/** Pull expiry of the consumer; its idle heartbeat is half of it, so a lost consumer is noticed
 * within about this long. */
const CONSUMER_EXPIRES_MS = 10_000;
/** Heartbeats announcing a template not received for this long restart the consumer, ms. */
const BEHIND_PRIMARY_MS = 3_000;
/** Fewest ms between two such restarts. */
const CONSUMER_RESTART_MIN_MS = 10_000;
/** The server drops a consumer nobody pulled from for this long, ms. */
const CONSUMER_INACTIVE_MS = 60_000;
/** Messages requested per pull: templates are large and only the newest matters. */
const CONSUMER_BATCH = 4;
/** Repeated problems (bad messages, consumer failures) logged at warning level every n-th time. */
const WARN_EVERY = 100;
/** Wait for one fetch of the full template, ms. */
const FETCH_TIMEOUT_MS = 5_000;
/**
 * Fetches of the full template for one missing base before giving up (the heartbeat check
 * starts over later), and the wait between them: the full copy of a template is stored just
 * after its live message, so a fetch right after a delta can still find the one before.
 */
const FETCH_ATTEMPTS = 10;
const FETCH_RETRY_MS = 200;

/** The getblocktemplate view with transactions hex-encoded only when read. */
function lazyGbt(template: BlockTemplate): TemplateGbt {
  let transactions: TemplateGbt["transactions"] | undefined;
  const { transactions: _heavy, ...head } = templateToGbt({ ...template, transactions: [] });
  return Object.defineProperty(head, "transactions", {
    enumerable: true,
    get: () => transactions ??= templateToGbt(template).transactions,
  }) as TemplateGbt;
}

/** Builds the update handed on for one decoded message. */
function primaryTemplateUpdate(
  template: BlockTemplate,
  message: TemplateMessageMeta,
  receivedAtMs: number,
  replayed: boolean,
  sizeBytes: number,
  kind: TemplateWireKind,
): PrimaryTemplateUpdate {
  return {
    gbt: lazyGbt(template),
    reason: message.reason,
    source: message.source,
    receivedAtMs,
    template,
    message,
    cleanJobs: message.cleanJobs,
    sentAtMs: message.sentAtMs,
    latencyMs: receivedAtMs - message.sentAtMs,
    replayed,
    sizeBytes,
    kind,
    [PRIMARY_TEMPLATE]: true,
  };
}

/** What a submission to the primary came to, with timing. */
export interface PrimarySubmitOutcome {
  /** The primary's result, or a failed result naming why there was none. */
  readonly result: BlockSubmitResult;
  /** The primary's reply, when one came. */
  readonly reply: BlockSubmitReply | null;
  /** Request sent → reply received, ms (includes the primary's submitblock). */
  readonly roundTripMs: number;
}

interface CommonOptions {
  /** Network token; only its templates are taken, and submissions carry it. */
  readonly network: string;
  /** This relay's region, carried in submissions. */
  readonly region: string;
  /** Region of the primary whose heartbeats are followed. */
  readonly primaryRegion: string;
  readonly log: StructuredLogger;
  /** The hub's JetStream domain when connected to a leaf node with its own domain. */
  readonly jetstreamDomain?: string;
  /** Wait for the primary's reply to a block submission, ms. */
  readonly submitTimeoutMs?: number;
  /** Shared secret sent with block submissions (`primary.auth_token`). */
  readonly authToken?: string;
  /** {@link NatsTemplateSource.healthy} needs the primary heard from within this, ms. */
  readonly primaryTimeoutMs?: number;
  /** Largest template message accepted. */
  readonly maxMessageBytes?: number;
  readonly clock?: Clock;
}

/** Settings of {@link NatsTemplateSource}: its own connection, or a shared one. */
export type NatsTemplateSourceOptions =
  & CommonOptions
  & (
    | {
      /** NATS servers (the relay's leaf node). */
      readonly servers: readonly string[];
      /** Connection name, e.g. `relay-us-east-0-templates`. */
      readonly name: string;
      /** Credentials or TLS for the connection (the inbox prefix is the region's by default). */
      readonly connectOptions?: Partial<ConnectionOptions>;
    }
    | {
      /**
       * A connection the caller starts and closes; behind a leaf node its `inboxPrefix` must be
       * `regionInboxPrefix(region)`.
       */
      readonly link: PersistentNatsConnection;
    }
  );

/** Templates from the primary over NATS; block submission to the primary. */
export class NatsTemplateSource implements TemplateSource {
  readonly #link: PersistentNatsConnection;
  readonly #ownsLink: boolean;
  readonly #network: string;
  readonly #region: string;
  readonly #log: StructuredLogger;
  readonly #clock: Clock;
  readonly #domain: string | undefined;
  readonly #submitTimeoutMs: number;
  readonly #authToken: string;
  readonly #primaryTimeoutMs: number;
  readonly #maxMessageBytes: number;
  readonly #subject: string;
  readonly #liveSubject: string;
  readonly #heartbeatSubject: string;
  /** Full-template fetches by reason; published by `registerRelayTemplateMetrics`. */
  readonly counters: RelayTemplateCounters = relayTemplateCounters();

  #state: "idle" | "running" | "stopped" = "idle";
  #onTemplate: (update: TemplateUpdate) => void = () => {};
  #first = Promise.withResolvers<void>();
  #unsubscribeLink: (() => void) | undefined;
  #connection: NatsConnection | null = null;
  #heartbeats: Subscription | null = null;
  #messages: ConsumerMessages | null = null;
  #consuming: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #replayBeforeMs = 0;
  #behindSinceMs: number | null = null;
  #lastRestartAtMs = -Infinity;

  /** The template handed on last: the base deltas apply to. */
  #held: TemplateBase | null = null;
  /** The newest delta whose base is missing, applied once the full template is fetched. */
  #pending: { readonly delta: DecodedTemplateDelta; readonly storedAtMs: number } | null = null;
  #fetching: Promise<void> | undefined;
  #lastBehindFetchAtMs = -Infinity;
  /** Whether the stream answers direct gets; false until a live message shows it was upgraded. */
  #directGet = true;
  #deltasApplied = 0;

  #lastEpoch = -1;
  #lastSequence = 0;
  #lastTemplateAtMs = 0;
  #lastPrimaryContactAtMs = 0;
  #lastLatencyMs: number | null = null;
  #lastHeartbeat: PrimaryHeartbeat | null = null;
  #lastHeartbeatAtMs = 0;
  #templatesReceived = 0;
  #rejectedMessages = 0;
  #consumerFailures = 0;

  /**
   * @param options servers (or a shared link), network, regions, logger and tuning
   * @throws {RangeError} when a token is not a subject token or a timing is not positive
   */
  constructor(options: NatsTemplateSourceOptions) {
    this.#subject = templateSubject(options.network);
    this.#liveSubject = templateLiveSubject(options.network);
    this.#heartbeatSubject = heartbeatSubject(options.primaryRegion);
    assertSubjectToken(options.region, "region");
    this.#network = options.network;
    this.#region = options.region;
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#domain = options.jetstreamDomain;
    this.#submitTimeoutMs = options.submitTimeoutMs ?? DEFAULT_SUBMIT_TIMEOUT_MS;
    this.#authToken = options.authToken ?? "";
    this.#primaryTimeoutMs = options.primaryTimeoutMs ?? DEFAULT_PRIMARY_TIMEOUT_MS;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_TEMPLATE_MESSAGE_BYTES;
    for (
      const [name, value] of [
        ["submitTimeoutMs", this.#submitTimeoutMs],
        ["primaryTimeoutMs", this.#primaryTimeoutMs],
        ["maxMessageBytes", this.#maxMessageBytes],
      ] as const
    ) {
      if (!(value > 0 && Number.isFinite(value))) {
        throw new RangeError(`Cannot create NATS template source: ${name} must be positive`);
      }
    }
    if ("link" in options) {
      this.#link = options.link;
      this.#ownsLink = false;
    } else {
      this.#link = new PersistentNatsConnection({
        servers: options.servers,
        name: options.name,
        log: options.log.getChild("nats"),
        // Replies cross a leaf link only on the region's inboxes (infra/nats/render.ts).
        connectOptions: {
          inboxPrefix: regionInboxPrefix(options.region),
          ...options.connectOptions,
        },
      });
      this.#ownsLink = true;
    }
  }

  /** Running, connected, a template received, and the primary heard from recently and healthy. */
  get healthy(): boolean {
    return this.#state === "running" && this.#link.connected && this.#lastTemplateAtMs > 0 &&
      this.#clock.nowMs() - this.#lastPrimaryContactAtMs <= this.#primaryTimeoutMs &&
      this.#lastHeartbeat?.templatesHealthy !== false;
  }

  /** When the last template arrived, ms since the epoch; 0 before the first. */
  get lastTemplateAtMs(): number {
    return this.#lastTemplateAtMs;
  }

  /** When a template, heartbeat or submission reply last came from the primary; 0 before. */
  get lastPrimaryContactAtMs(): number {
    return this.#lastPrimaryContactAtMs;
  }

  /** Latency of the last live (not replayed) template, ms; null before the first. */
  get lastLatencyMs(): number | null {
    return this.#lastLatencyMs;
  }

  /** When the last heartbeat from the primary arrived (relay clock), ms; 0 before any. */
  get lastHeartbeatAtMs(): number {
    return this.#lastHeartbeatAtMs;
  }

  /** The last heartbeat from the primary, or null. */
  get lastHeartbeat(): PrimaryHeartbeat | null {
    return this.#lastHeartbeat;
  }

  /** Sequence of the last template handed on (0 before the first). */
  get lastSequence(): number {
    return this.#lastSequence;
  }

  /** Templates handed on. */
  get templatesReceived(): number {
    return this.#templatesReceived;
  }

  /** Templates handed on that came as deltas. */
  get deltasApplied(): number {
    return this.#deltasApplied;
  }

  /** Messages refused: undecodable, another network, or older than one already handed on. */
  get rejectedMessages(): number {
    return this.#rejectedMessages;
  }

  /** The NATS link is connected. */
  get connected(): boolean {
    return this.#link.connected;
  }

  /**
   * Connects (in the background, retrying) and follows the primary's templates; resolves once
   * the first template was handed to `onTemplate`, which runs synchronously per message.
   *
   * @throws {Error} when started twice, or stopped before the first template
   */
  async start(onTemplate: (update: TemplateUpdate) => void): Promise<void> {
    if (this.#state !== "idle") {
      throw new Error(`Cannot start NATS template source: ${this.#state}`);
    }
    this.#state = "running";
    this.#onTemplate = onTemplate;
    this.#unsubscribeLink = this.#link.onConnected((connection, kind) =>
      this.#onConnected(connection, kind)
    );
    if (this.#ownsLink) this.#link.start();
    this.#log.info("following the primary's templates", {
      subject: this.#liveSubject,
      fullSubject: this.#subject,
      heartbeats: this.#heartbeatSubject,
      domain: this.#domain ?? null,
    });
    await this.#first.promise;
  }

  /** Stops the consumer and subscriptions; closes the connection when it owns it. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    this.#first.reject(
      new Error("Cannot start NATS template source: stopped before the first template"),
    );
    this.#first.promise.catch(() => undefined);
    this.#unsubscribeLink?.();
    clearTimeout(this.#retryTimer);
    this.#wake?.();
    this.#messages?.stop();
    try {
      this.#heartbeats?.unsubscribe();
    } catch {
      // Connection already closed.
    }
    await this.#consuming;
    // Closing the connection ends a fetch in flight at once.
    if (this.#ownsLink) await this.#link.close();
    await this.#fetching;
  }

  /**
   * Asks the primary to submit a block (see {@link submitBlockToPrimary}).
   *
   * @param hex the serialized block
   * @returns the primary's result, or `accepted: false` with the reason there was none
   * @throws {TypeError} when `hex` is not a serialized block with a BIP34 coinbase
   */
  async submitBlock(hex: string): Promise<BlockSubmitResult> {
    return (await this.submitBlockToPrimary(hex)).result;
  }

  /**
   * Sends a block to the primary on `mining.blocks.submit` and waits for its reply (at most the
   * submit timeout). Never throws for NATS trouble: a missing connection, no responder, a timeout
   * or an error reply give `accepted: false` with the reason in `results[0].error`.
   *
   * @param hex the serialized block
   * @returns the result, the raw reply and the round trip
   * @throws {TypeError} when `hex` is not a serialized block with a BIP34 coinbase
   */
  async submitBlockToPrimary(hex: string): Promise<PrimarySubmitOutcome> {
    if (hex.length < HEADER_BYTES * 2 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
      throw new TypeError("Cannot submit block: not the hex of a serialized block");
    }
    const block = hexToBytes(hex);
    const blockHash = sha256d(block.subarray(0, HEADER_BYTES));
    let height: number;
    let request: Uint8Array;
    try {
      height = coinbaseHeight(block);
      request = encodeBlockSubmitRequest({
        sentAtMs: this.#clock.nowMs(),
        height,
        blockHash,
        region: this.#region,
        network: this.#network,
        authToken: this.#authToken,
        block,
      });
    } catch (error) {
      throw new TypeError(`Cannot submit block: ${(error as Error).message}`, { cause: error });
    }
    const hashHex = displayHex(blockHash);
    const failed = (reason: string, reply: BlockSubmitReply | null, roundTripMs: number) => {
      this.#log.error("block submission to the primary failed", {
        hash: hashHex,
        height,
        reason,
      });
      return {
        result: {
          accepted: false,
          tipMoved: false,
          blockHash: hashHex,
          results: [{
            url: `nats:${blockSubmitSubject}`,
            result: null,
            error: reason,
            tipMoved: false,
          }],
        },
        reply,
        roundTripMs,
      };
    };
    const connection = this.#connection;
    if (connection === null || connection.isClosed()) {
      return failed("not connected to NATS", null, 0);
    }
    const startMs = this.#clock.nowMs();
    let replyBytes: Uint8Array;
    try {
      const msg = await connection.request(blockSubmitSubject, request, {
        timeout: this.#submitTimeoutMs,
      });
      replyBytes = msg.data;
    } catch (error) {
      const roundTripMs = this.#clock.nowMs() - startMs;
      if (error instanceof errors.RequestError && error.isNoResponders()) {
        return failed(`no primary serves ${blockSubmitSubject}`, null, roundTripMs);
      }
      if (error instanceof errors.TimeoutError) {
        return failed(`no reply within ${this.#submitTimeoutMs} ms`, null, roundTripMs);
      }
      return failed((error as Error).message, null, roundTripMs);
    }
    const roundTripMs = this.#clock.nowMs() - startMs;
    let reply: BlockSubmitReply;
    try {
      reply = decodeBlockSubmitReply(replyBytes);
    } catch (error) {
      return failed((error as Error).message, null, roundTripMs);
    }
    this.#lastPrimaryContactAtMs = Math.max(this.#lastPrimaryContactAtMs, this.#clock.nowMs());
    if (!reply.ok) {
      return failed(`${reply.error.code}: ${reply.error.message}`, reply, roundTripMs);
    }
    (reply.result.accepted ? this.#log.info : this.#log.error).call(
      this.#log,
      "block submitted through the primary",
      {
        hash: hashHex,
        height,
        accepted: reply.result.accepted,
        primary: reply.region,
        roundTripMs,
      },
    );
    return { result: reply.result, reply, roundTripMs };
  }

  #onConnected(connection: NatsConnection, kind: "connect" | "reconnect"): void {
    if (this.#state !== "running") return;
    // Whatever was stored while we were away is a replay, not a measure of latency.
    this.#replayBeforeMs = this.#clock.nowMs();
    if (kind === "reconnect" && connection === this.#connection) return;
    this.#connection = connection;
    this.#heartbeats = connection.subscribe(this.#heartbeatSubject, {
      callback: (error, msg) => {
        if (error === null) this.#onHeartbeat(msg.data);
      },
    });
    if (this.#consuming === undefined) {
      this.#consuming = this.#consumeLoop().finally(() => {
        this.#consuming = undefined;
      });
    } else {
      // The loop is on the closed connection: wake it so it moves to this one.
      this.#messages?.stop();
      this.#wake?.();
    }
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#state !== "running") return;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#retryTimer = setTimeout(resolve, ms);
    });
    this.#wake = undefined;
    this.#retryTimer = undefined;
  }

  /** Runs the consumer on the current connection; sets it up again whenever it stops. */
  async #consumeLoop(): Promise<void> {
    while (this.#state === "running") {
      const connection = this.#connection;
      if (connection === null || connection.isClosed()) {
        await this.#sleep(CONSUMER_RETRY_DELAY_MS);
        continue;
      }
      try {
        const js = jetstream(connection, {
          ...(this.#domain === undefined ? {} : { domain: this.#domain }),
        });
        this.#replayBeforeMs = this.#clock.nowMs();
        const consumer = await js.consumers.get(MINING_TEMPLATES_STREAM_NAME, {
          // A string, not an array: one filter subject works with nats-server before 2.10.
          filter_subjects: this.#liveSubject,
          deliver_policy: DeliverPolicy.LastPerSubject,
          // A relay that vanishes leaves its server-side consumer for at most this long.
          inactive_threshold: CONSUMER_INACTIVE_MS,
        });
        if (this.#state !== "running") return;
        const messages = await consumer.consume({
          max_messages: CONSUMER_BATCH,
          expires: CONSUMER_EXPIRES_MS,
          callback: (msg) => this.#onMessage(msg),
        });
        this.#messages = messages;
        this.#watchConsumer(messages);
        const ended = await messages.closed();
        this.#messages = null;
        if (this.#state !== "running") return;
        this.#log.warn("template consumer stopped, starting it again", {
          error: ended instanceof Error ? ended.message : null,
        });
      } catch (error) {
        if (this.#state !== "running") return;
        this.#consumerFailures++;
        const level = this.#consumerFailures % WARN_EVERY === 1 ? "warn" : "debug";
        this.#log[level]("cannot follow the templates stream yet, retrying", {
          stream: MINING_TEMPLATES_STREAM_NAME,
          attempt: this.#consumerFailures,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      await this.#sleep(CONSUMER_RETRY_DELAY_MS);
    }
  }

  #watchConsumer(messages: ConsumerMessages): void {
    (async () => {
      for await (const status of messages.status()) {
        if (status.type === "ordered_consumer_recreated") {
          this.#replayBeforeMs = this.#clock.nowMs();
          this.#log.info("template consumer recreated", { name: status.name });
        } else if (status.type === "stream_not_found") {
          // A recreated stream numbers from 1 again, and the ordered consumer would wait for
          // the sequence after the last it saw: start over from the last message instead.
          this.#restartConsumer("the templates stream is gone");
        }
      }
    })().catch(() => undefined);
  }

  /** Stops the consumer; the loop sets up a new one from the last message (rate-limited). */
  #restartConsumer(why: string): void {
    const nowMs = this.#clock.nowMs();
    if (this.#messages === null || nowMs - this.#lastRestartAtMs < CONSUMER_RESTART_MIN_MS) {
      return;
    }
    this.#lastRestartAtMs = nowMs;
    this.#log.warn("restarting the template consumer", { why, lastSequence: this.#lastSequence });
    this.#messages.stop();
  }

  #reject(problem: string, context: object): void {
    this.#rejectedMessages++;
    const level = this.#rejectedMessages % WARN_EVERY === 1 ? "error" : "debug";
    this.#log[level]("template message refused", { problem, ...context });
  }

  #onMessage(msg: JsMsg): void {
    if (this.#state !== "running") return;
    // Live messages come from a primary that set the stream up with direct get.
    this.#directGet = true;
    // A copy, since the template outlives the client's read buffer. Not `.slice()`: the client
    // hands Node Buffers, whose slice() is a view.
    const bytes = new Uint8Array(msg.data);
    const storedAtMs = Number(msg.timestampNanos / 1_000_000n);
    const kind = templateWireKind(bytes);
    let decoded: DecodedTemplateMessage | DecodedTemplateDelta;
    try {
      decoded = kind === TemplateWireKind.delta
        ? decodeTemplateDelta(bytes, { maxBytes: this.#maxMessageBytes })
        : decodeTemplateMessage(bytes, { maxBytes: this.#maxMessageBytes });
    } catch (error) {
      this.#reject((error as Error).message, { bytes: bytes.length, streamSequence: msg.seq });
      return;
    }
    if (!this.#isNext(decoded)) return;
    if (!("base" in decoded)) {
      this.#accept(decoded, storedAtMs, TemplateWireKind.full);
      return;
    }
    if (!this.#applyDelta(decoded, storedAtMs)) {
      this.#pending = { delta: decoded, storedAtMs };
      this.#fetchFull(this.#held === null ? FullFetchReason.start : FullFetchReason.base_missing);
    }
  }

  /**
   * Whether a message moves forward: this network, and newer than the template held. Refuses
   * (and counts) the others; the template held again is skipped silently.
   */
  #isNext(decoded: TemplateMessageMeta): boolean {
    if (decoded.network !== this.#network) {
      this.#reject(`template for ${decoded.network}, this relay mines ${this.#network}`, {
        sequence: decoded.sequence,
      });
      return false;
    }
    // The current template again (handed over after a reconnect or consumer restart).
    if (decoded.epoch === this.#lastEpoch && decoded.sequence === this.#lastSequence) return false;
    // Only a newer primary run or a later message of the same run moves forward.
    if (
      decoded.epoch < this.#lastEpoch ||
      (decoded.epoch === this.#lastEpoch && decoded.sequence < this.#lastSequence)
    ) {
      this.#reject("older than the template already in use", {
        epoch: decoded.epoch,
        sequence: decoded.sequence,
        lastEpoch: this.#lastEpoch,
        lastSequence: this.#lastSequence,
      });
      return false;
    }
    return true;
  }

  /** Applies a delta to the template held and hands the result on; false when its base is not held. */
  #applyDelta(delta: DecodedTemplateDelta, storedAtMs: number): boolean {
    let decoded: DecodedTemplateMessage;
    try {
      decoded = applyTemplateDelta(delta, this.#held);
    } catch (error) {
      if (error instanceof TemplateBaseMismatchError) {
        this.#log.debug("template delta without its base", {
          sequence: delta.sequence,
          base: `${delta.base.epoch}-${delta.base.sequence}`,
          held: this.#held === null ? null : `${this.#held.epoch}-${this.#held.sequence}`,
        });
        return false;
      }
      this.#reject((error as Error).message, { sequence: delta.sequence });
      return true;
    }
    this.#deltasApplied++;
    this.#accept(decoded, storedAtMs, TemplateWireKind.delta);
    return true;
  }

  /**
   * Fetches the current full template (one fetch at a time), hands it on when it is newer than
   * the one held, then applies the pending delta. Retries a few times while the pending delta's
   * base is still missing (its full copy may not be stored yet).
   */
  #fetchFull(reason: FullFetchReason): void {
    if (this.#fetching !== undefined || this.#state !== "running") return;
    this.#fetching = (async () => {
      for (let attempt = 1; attempt <= FETCH_ATTEMPTS && this.#state === "running"; attempt++) {
        if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, FETCH_RETRY_MS));
        const connection = this.#connection;
        if (connection === null || connection.isClosed() || this.#state !== "running") return;
        this.counters.fullFetches[reason].inc();
        try {
          await this.#fetchFullOnce(connection);
        } catch (error) {
          this.#consumerFailures++;
          const level = this.#consumerFailures % WARN_EVERY === 1 ? "warn" : "debug";
          this.#log[level]("cannot fetch the full template", {
            reason,
            attempt,
            error: error instanceof Error ? error.message : String(error),
          });
        }
        // A heartbeat check fetches once; a missing base is fetched until it is there.
        if (this.#settlePending() || reason === FullFetchReason.behind) return;
      }
      if (this.#pending !== null) {
        this.#log.warn("template delta dropped: its base could not be fetched", {
          sequence: this.#pending.delta.sequence,
          attempts: FETCH_ATTEMPTS,
        });
        this.#pending = null;
      }
    })().finally(() => {
      this.#fetching = undefined;
    });
  }

  /** Applies the pending delta when its base is now held; true when nothing is left pending. */
  #settlePending(): boolean {
    const pending = this.#pending;
    if (pending === null) return true;
    // The template held caught up with it (a full template came meanwhile).
    if (this.#held !== null && compareTemplateIds(pending.delta, this.#held) <= 0) {
      this.#pending = null;
      return true;
    }
    if (!this.#applyDelta(pending.delta, pending.storedAtMs)) return false;
    this.#pending = null;
    return true;
  }

  /** One direct get of the last full template; hands it on when it moves forward. */
  async #fetchFullOnce(connection: NatsConnection): Promise<void> {
    const jsm = await jetstreamManager(connection, {
      ...(this.#domain === undefined ? {} : { domain: this.#domain }),
      checkAPI: false,
      timeout: FETCH_TIMEOUT_MS,
    });
    const query = { last_by_subj: this.#subject };
    let stored: StoredMsg | null = null;
    if (this.#directGet) {
      try {
        stored = await jsm.direct.getMessage(MINING_TEMPLATES_STREAM_NAME, query);
      } catch (error) {
        // A stream an older primary set up has no direct get, and the server does not answer
        // such a request at all: tell that from a slow link before falling back.
        const info = await jsm.streams.info(MINING_TEMPLATES_STREAM_NAME).catch(() => null);
        if (info === null || info.config.allow_direct === true) throw error;
        this.#directGet = false;
        this.#log.warn("the templates stream has no direct get (set up by an older primary)", {
          stream: MINING_TEMPLATES_STREAM_NAME,
        });
      }
    }
    // The stream API has the message too, as base64 in JSON (a third larger on the wire).
    if (!this.#directGet) {
      stored = await jsm.streams.getMessage(MINING_TEMPLATES_STREAM_NAME, query);
    }
    if (stored === null || this.#state !== "running") return;
    const bytes = new Uint8Array(stored.data);
    let decoded: DecodedTemplateMessage;
    try {
      decoded = decodeTemplateMessage(bytes, { maxBytes: this.#maxMessageBytes });
    } catch (error) {
      this.#reject((error as Error).message, { bytes: bytes.length, streamSequence: stored.seq });
      return;
    }
    if (decoded.network !== this.#network) {
      this.#reject(`template for ${decoded.network}, this relay mines ${this.#network}`, {
        sequence: decoded.sequence,
      });
      return;
    }
    // Older than (or the same as) the template held: a live message overtook the fetch.
    if (this.#held !== null && compareTemplateIds(decoded, this.#held) <= 0) return;
    const storedAtMs = Date.parse(stored.timestamp);
    this.#accept(
      decoded,
      Number.isFinite(storedAtMs) ? storedAtMs : -Infinity,
      TemplateWireKind.full,
    );
  }

  /** Hands a template on and makes it the base of the next delta. */
  #accept(decoded: DecodedTemplateMessage, storedAtMs: number, kind: TemplateWireKind): void {
    const receivedAtMs = this.#clock.nowMs();
    const update = primaryTemplateUpdate(
      blockTemplateFromMessage(decoded.template, receivedAtMs),
      decoded,
      receivedAtMs,
      storedAtMs < this.#replayBeforeMs,
      decoded.sizeBytes,
      kind,
    );
    this.#held = { epoch: decoded.epoch, sequence: decoded.sequence, template: decoded.template };
    this.#lastEpoch = decoded.epoch;
    this.#lastSequence = decoded.sequence;
    this.#lastTemplateAtMs = receivedAtMs;
    this.#lastPrimaryContactAtMs = Math.max(this.#lastPrimaryContactAtMs, receivedAtMs);
    if (!update.replayed) this.#lastLatencyMs = update.latencyMs;
    this.#templatesReceived++;
    this.#log.debug("template from the primary", {
      sequence: decoded.sequence,
      height: decoded.template.height,
      clean: decoded.cleanJobs,
      reason: decoded.reason,
      kind,
      latencyMs: update.latencyMs,
      replayed: update.replayed,
      bytes: decoded.sizeBytes,
    });
    try {
      this.#onTemplate(update);
    } catch (error) {
      this.#log.error("template consumer threw", { error: String(error) });
    }
    this.#first.resolve();
  }

  #onHeartbeat(data: Uint8Array): void {
    let heartbeat: PrimaryHeartbeat;
    try {
      heartbeat = decodeHeartbeat(data);
    } catch (error) {
      this.#reject((error as Error).message, { subject: this.#heartbeatSubject });
      return;
    }
    if (heartbeat.network !== this.#network) return;
    const nowMs = this.#clock.nowMs();
    this.#lastHeartbeat = heartbeat;
    this.#lastHeartbeatAtMs = nowMs;
    this.#lastPrimaryContactAtMs = Math.max(this.#lastPrimaryContactAtMs, nowMs);
    // The primary has sent a template we have not seen. Normally it arrives within ms; if it
    // does not, the consumer is stuck (e.g. the stream was recreated) and starts over.
    const behind = heartbeat.templateSequence > 0 &&
      (heartbeat.epoch > this.#lastEpoch ||
        (heartbeat.epoch === this.#lastEpoch && heartbeat.templateSequence > this.#lastSequence));
    if (!behind) {
      this.#behindSinceMs = null;
    } else if (this.#behindSinceMs === null) {
      this.#behindSinceMs = nowMs;
    } else if (nowMs - this.#behindSinceMs > BEHIND_PRIMARY_MS) {
      // The full copy catches up at once if only the live message went missing (or the primary
      // does not send live messages yet); a stuck consumer is started over as well.
      if (nowMs - this.#lastBehindFetchAtMs > BEHIND_PRIMARY_MS) {
        this.#lastBehindFetchAtMs = nowMs;
        this.#fetchFull(FullFetchReason.behind);
      }
      this.#restartConsumer(
        `the primary announces template ${heartbeat.epoch}-${heartbeat.templateSequence}, ` +
          `the last one received is ${this.#lastEpoch}-${this.#lastSequence}`,
      );
    }
  }
}
