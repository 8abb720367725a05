/**
 * The primary's side of dual block submission: serves `mining.blocks.submit`, checks each
 * request (size, format, network, header hash, BIP34 height, proof of work against the header's
 * own nBits), submits the block through the primary's template source (every one of its
 * bitcoind nodes) and replies with the outcome, or with an error code and a message saying what
 * was wrong.
 *
 * With `authTokens`, a request must carry one of them (compared in constant time); relays send
 * their `primary.auth_token`. NATS authentication of the leaf links is the first gate; the token
 * keeps any other client of the hub from making the primary submit blocks.
 *
 * A valid block is submitted even when the request has no reply subject: a found block is never
 * thrown away. At most `maxInFlight` submissions run at once (a relay finds a block a week; more
 * means something is wrong), beyond that the reply is `busy` and the relay's own submitblock
 * still stands.
 *
 * The subscription is in queue group `tbg-primary-blocks`, so several primary processes sharing
 * a host submit each block once.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import type { Msg, NatsConnection, Subscription } from "nats";
import { bitsToTarget, hashMeetsTarget } from "../bitcoin/target.ts";
import type { BlockSubmitResult } from "../bitcoind/template_source.ts";
import { type Clock, systemClock } from "../engine/clock.ts";
import type { StructuredLogger } from "../log/mod.ts";
import { assertSubjectToken, blockSubmitSubject } from "../nats/subjects.ts";
import {
  type BlockSubmitErrorCode,
  BlockSubmitErrorCode as ErrorCode,
  type BlockSubmitRequest,
  decodeBlockSubmitRequest,
  displayHex,
  encodeBlockSubmitReply,
} from "./block_submit_codec.ts";
import { fastHex } from "./_bytes.ts";
import type { PersistentNatsConnection } from "./nats_connection.ts";
import { type BlockSubmitResponderMetrics, RelayBlockOutcome } from "./template_metrics.ts";

const TOKEN_ENCODER = new TextEncoder();

/** Default most submissions at once. */
export const DEFAULT_MAX_SUBMITS_IN_FLIGHT = 4;
/** Queue group of the responders. */
export const BLOCK_SUBMIT_QUEUE = "tbg-primary-blocks";

/** Settings and dependencies of {@link BlockSubmitResponder}. */
export interface BlockSubmitResponderOptions {
  /** The NATS connection (started by the caller; shared with the publisher). */
  readonly link: PersistentNatsConnection;
  /** The primary's network; blocks for another are refused. */
  readonly network: string;
  /** The primary's region, named in replies. */
  readonly region: string;
  /** Submits a serialized block (hex) by every path the primary has. */
  readonly submitBlock: (hex: string) => Promise<BlockSubmitResult>;
  readonly log: StructuredLogger;
  readonly metrics?: BlockSubmitResponderMetrics;
  /** Accepted relay auth tokens; when empty or absent, requests need none. */
  readonly authTokens?: readonly string[];
  /** Most submissions at once ({@link DEFAULT_MAX_SUBMITS_IN_FLIGHT} unless given). */
  readonly maxInFlight?: number;
  readonly clock?: Clock;
}

/** Serves relays' block submissions on `mining.blocks.submit`. */
export class BlockSubmitResponder {
  readonly #link: PersistentNatsConnection;
  readonly #network: string;
  readonly #region: string;
  readonly #submitBlock: (hex: string) => Promise<BlockSubmitResult>;
  readonly #log: StructuredLogger;
  readonly #metrics: BlockSubmitResponderMetrics | undefined;
  readonly #maxInFlight: number;
  readonly #clock: Clock;
  readonly #authTokens: readonly Uint8Array[];
  readonly #running = new Set<Promise<void>>();
  #state: "idle" | "running" | "stopped" = "idle";
  #subscription: Subscription | null = null;
  #subscribedOn: NatsConnection | null = null;
  #unsubscribeLink: (() => void) | undefined;

  /**
   * @param options link, network, region, submit function, logger, tuning
   * @throws {RangeError} when network or region is not a subject token, or maxInFlight < 1
   */
  constructor(options: BlockSubmitResponderOptions) {
    assertSubjectToken(options.network, "network");
    assertSubjectToken(options.region, "region");
    this.#maxInFlight = options.maxInFlight ?? DEFAULT_MAX_SUBMITS_IN_FLIGHT;
    if (!Number.isInteger(this.#maxInFlight) || this.#maxInFlight < 1) {
      throw new RangeError("Cannot create block submit responder: maxInFlight must be ≥ 1");
    }
    this.#link = options.link;
    this.#network = options.network;
    this.#region = options.region;
    this.#submitBlock = options.submitBlock;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#clock = options.clock ?? systemClock;
    this.#authTokens = (options.authTokens ?? []).map((token) => {
      if (token.length === 0) {
        throw new RangeError("Cannot create block submit responder: an auth token is empty");
      }
      return TOKEN_ENCODER.encode(token);
    });
  }

  #authorized(token: string): boolean {
    if (this.#authTokens.length === 0) return true;
    const given = TOKEN_ENCODER.encode(token);
    let ok = false;
    // Every accepted token is compared, so timing does not tell which one nearly matched.
    for (const accepted of this.#authTokens) {
      if (accepted.length === given.length && timingSafeEqual(accepted, given)) ok = true;
    }
    return ok;
  }

  /** Submissions running now. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** Subscribes on every new connection of the link. Idempotent. */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#unsubscribeLink = this.#link.onConnected((connection) => this.#subscribe(connection));
  }

  /** Stops taking requests and waits for the submissions in flight to reply. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    this.#unsubscribeLink?.();
    try {
      this.#subscription?.unsubscribe();
    } catch {
      // The connection is already closed.
    }
    this.#subscription = null;
    await Promise.all([...this.#running]);
  }

  #subscribe(connection: NatsConnection): void {
    // The client restores subscriptions after a reconnect of the same connection.
    if (this.#state !== "running" || connection === this.#subscribedOn) return;
    this.#subscribedOn = connection;
    this.#subscription = connection.subscribe(blockSubmitSubject, {
      queue: BLOCK_SUBMIT_QUEUE,
      callback: (error, msg) => {
        if (error !== null) {
          this.#log.error("block submission subscription failed", { error: error.message });
          return;
        }
        this.#handle(msg);
      },
    });
    this.#log.info("serving relay block submissions", {
      subject: blockSubmitSubject,
      queue: BLOCK_SUBMIT_QUEUE,
    });
  }

  #reply(msg: Msg, bytes: Uint8Array): void {
    if (msg.reply === undefined || msg.reply === "") return;
    try {
      msg.respond(bytes);
    } catch (error) {
      this.#log.warn("cannot reply to block submission", { error: String(error) });
    }
  }

  #refuse(msg: Msg, code: BlockSubmitErrorCode, message: string, context: object): void {
    this.#metrics?.relayBlockSubmissions[RelayBlockOutcome.refused].inc();
    this.#log.warn("relay block submission refused", { code, message, ...context });
    this.#reply(
      msg,
      encodeBlockSubmitReply({ ok: false, region: this.#region, error: { code, message } }),
    );
  }

  #handle(msg: Msg): void {
    let request: BlockSubmitRequest;
    try {
      request = decodeBlockSubmitRequest(msg.data);
    } catch (error) {
      this.#refuse(msg, ErrorCode.badRequest, (error as Error).message, {
        bytes: msg.data.length,
      });
      return;
    }
    const hash = displayHex(request.blockHash);
    const context = { region: request.region, height: request.height, hash };
    if (!this.#authorized(request.authToken)) {
      this.#refuse(
        msg,
        ErrorCode.unauthorized,
        request.authToken === ""
          ? "Cannot submit block: the request carries no auth token and this primary requires one"
          : "Cannot submit block: the request's auth token is not accepted",
        context,
      );
      return;
    }
    if (request.network !== this.#network) {
      this.#refuse(
        msg,
        ErrorCode.wrongNetwork,
        `Cannot submit block: it is for ${request.network}, this primary mines ${this.#network}`,
        context,
      );
      return;
    }
    const bits = new DataView(request.block.buffer, request.block.byteOffset + 72, 4)
      .getUint32(0, true);
    let meetsTarget: boolean;
    try {
      meetsTarget = hashMeetsTarget(request.blockHash, bitsToTarget(bits));
    } catch (error) {
      meetsTarget = false;
      this.#log.debug("block nBits unusable", { ...context, error: String(error) });
    }
    if (!meetsTarget) {
      this.#refuse(
        msg,
        ErrorCode.badRequest,
        `Cannot submit block: hash ${hash} does not meet its header's nBits 0x${
          bits.toString(16).padStart(8, "0")
        }`,
        context,
      );
      return;
    }
    if (this.#running.size >= this.#maxInFlight) {
      this.#refuse(
        msg,
        ErrorCode.busy,
        `Cannot submit block now: ${this.#running.size} submissions already in flight`,
        context,
      );
      return;
    }
    const run = this.#submit(msg, request, context).finally(() => this.#running.delete(run));
    this.#running.add(run);
  }

  async #submit(
    msg: Msg,
    request: BlockSubmitRequest,
    context: { region: string; height: number; hash: string },
  ): Promise<void> {
    const startMs = this.#clock.nowMs();
    this.#log.info("relay block submission", {
      ...context,
      bytes: request.block.length,
      transitMs: startMs - request.sentAtMs,
    });
    let result: BlockSubmitResult;
    try {
      result = await this.#submitBlock(fastHex(request.block));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#metrics?.relayBlockSubmissions[RelayBlockOutcome.failed].inc();
      this.#log.error("relay block submission failed", { ...context, error: message });
      this.#reply(
        msg,
        encodeBlockSubmitReply({
          ok: false,
          region: this.#region,
          error: { code: ErrorCode.submitFailed, message },
        }),
      );
      return;
    }
    const submitMs = this.#clock.nowMs() - startMs;
    const outcome = result.accepted ? RelayBlockOutcome.accepted : RelayBlockOutcome.rejected;
    this.#metrics?.relayBlockSubmissions[outcome].inc();
    (result.accepted ? this.#log.info : this.#log.error).call(
      this.#log,
      "relay block submitted",
      { ...context, accepted: result.accepted, tipMoved: result.tipMoved, submitMs },
    );
    this.#reply(
      msg,
      encodeBlockSubmitReply({ ok: true, region: this.#region, submitMs, result }),
    );
  }
}
