/**
 * Block templates from bitcoind for the Stratum engine.
 *
 * {@link TemplateSource} is what the engine consumes; {@link BitcoindTemplateSource} implements it
 * on a {@link BitcoindPool}:
 * - at start, a template (`startup`);
 * - on a ZMQ `hashblock`, or when polling getbestblockhash every `blockpoll` ms sees a tip that
 *   the last template does not build on, a new template at once (`new_block`); ZMQ and polling
 *   for the same hash give one template;
 * - every `update_interval` s without a template, a fresh one (`refresh`, new transactions);
 * - when the pool switches node, a template from the new node (`failover`);
 * - with `longpoll` (default on) and a node that sends `longpollid` (Core, Knots, btcd), a BIP22
 *   long poll kept open on the active node: its answer is delivered as the next template
 *   (`new_block` when it builds on a new tip, else `refresh`), so new work arrives as soon as
 *   the node has it even without ZMQ. Its trigger is `poll` (the relay wire format knows no
 *   other, and a long poll is a poll the node answers late). One long poll at a time; a timeout
 *   re-polls, a failure waits the retry delay, a node that answers at once with the same id (it
 *   does not hold long polls) is long-polled again only after `update_interval`, and long polls
 *   start at least 100 ms apart.
 * A template whose previous block differs from the last one delivered is always `new_block`,
 * whatever asked for it, so the engine can rely on the reason to send clean_jobs.
 *
 * At most one getblocktemplate is in flight, with at most one more pending (requests arriving
 * meanwhile merge into it). Every loop stops on {@link BitcoindTemplateSource.stop}, which returns
 * only after timers, sockets and requests are gone.
 *
 * The raw getblocktemplate result is passed on unparsed; the engine parses it with
 * `templateFromGbt` (shared/engine/template.ts).
 *
 * @module
 */
import { blockHashHex, HEADER_BYTES, hexToBytes } from "../bitcoin/mod.ts";
import { getLogger, type StructuredLogger } from "../log/logger.ts";
import {
  BitcoindPool,
  type BtcdNodeConfig,
  DEFAULT_BLOCKPOLL_MS,
  type NodeSwitchEvent,
} from "./node_pool.ts";
import { RpcTransportError, TransportFailure } from "./rpc_client.ts";
import { ZmqBlockListener } from "./zmq_listener.ts";

/** Why a template was produced. */
export const TemplateReason = {
  newBlock: "new_block",
  refresh: "refresh",
  startup: "startup",
  failover: "failover",
} as const;

/** One of {@link TemplateReason}. */
export type TemplateReason = typeof TemplateReason[keyof typeof TemplateReason];

/** What asked for a template. */
export const TemplateTrigger = {
  zmq: "zmq",
  poll: "poll",
  timer: "timer",
  startup: "startup",
  switch: "switch",
} as const;

/** One of {@link TemplateTrigger}. */
export type TemplateTrigger = typeof TemplateTrigger[keyof typeof TemplateTrigger];

/** One template handed to the engine. */
export interface TemplateUpdate {
  /** The raw getblocktemplate result; parse with `templateFromGbt`. */
  readonly gbt: unknown;
  readonly reason: TemplateReason;
  readonly source: TemplateTrigger;
  /** Local time the template arrived, ms since the epoch. */
  readonly receivedAtMs: number;
}

/** One node's answer to a block submission. */
export interface NodeBlockSubmitResult {
  /** Node URL, no credentials. */
  readonly url: string;
  /** `null` when accepted, else the reject reason (`duplicate`, `high-hash`, …). */
  readonly result: string | null;
  /** Set when the node could not be asked. */
  readonly error?: string;
  /** The node's best block is the submitted block. */
  readonly tipMoved: boolean;
}

/** The outcome of submitting a found block to every node. */
export interface BlockSubmitResult {
  /**
   * Some node accepted the block: submitblock answered null, or `duplicate` (Core's answer when
   * it already holds the block fully validated, e.g. relayed by another of our nodes; btcd's is
   * "rejected: already have block <hash>", bcoin's "rejected: duplicate").
   */
  readonly accepted: boolean;
  /** Per node, in `btcd[]` order. */
  readonly results: readonly NodeBlockSubmitResult[];
  /** Some node's getbestblockhash now returns the block's hash. */
  readonly tipMoved: boolean;
  /** The block's hash, display hex. */
  readonly blockHash: string;
}

/** A source of block templates, as the engine sees it. */
export interface TemplateSource {
  /**
   * Starts producing templates; resolves after the first one was handed to `onTemplate`.
   * `onTemplate` runs synchronously in the source's loop and should not block.
   */
  start(onTemplate: (update: TemplateUpdate) => void): Promise<void>;
  /** Stops every loop and releases timers and sockets. */
  stop(): Promise<void>;
  /** Templates are current: the node answers and the last fetch succeeded. */
  readonly healthy: boolean;
  /** When the last template arrived, ms since the epoch; 0 before the first. */
  readonly lastTemplateAtMs: number;
  /** Submits a found block by every path available. */
  submitBlock(hex: string): Promise<BlockSubmitResult>;
}

/** The config keys this source reads (stratum/relay config, already validated). */
export interface BitcoindSourceConfig {
  /** Nodes in order of preference. */
  readonly btcd: readonly BtcdNodeConfig[];
  /** getbestblockhash polling interval, ms (default 100). */
  readonly blockpoll?: number;
  /** Template refresh interval, s (default 30). */
  readonly update_interval?: number;
  /** ZMQ hashblock endpoint `tcp://host:port`; polling only when absent. */
  readonly zmqblock?: string | undefined;
  /** BIP22 long polling when the node's template has a `longpollid` (default true). */
  readonly longpoll?: boolean;
}

/** Dependencies and tuning of {@link BitcoindTemplateSource}. */
export interface BitcoindTemplateSourceOptions {
  /** A pool to use (the caller starts and stops it); by default the source owns one. */
  readonly pool?: BitcoindPool;
  /** Defaults to the `["bitcoind", "templates"]` logger. */
  readonly logger?: StructuredLogger;
  /** Clock for `receivedAtMs`, ms since the epoch (default Date.now). */
  readonly now?: () => number;
  /** getbestblockhash timeout, ms (default 2,000). */
  readonly pollTimeoutMs?: number;
  /** Delay before retrying a failed getblocktemplate, ms (default max(blockpoll × 10, 1000)). */
  readonly retryDelayMs?: number;
  /** Passed to the pool the source creates. */
  readonly rpcTimeoutMs?: number;
  /** Passed to the pool the source creates. */
  readonly healthCheckIntervalMs?: number;
  /** ZMTP heartbeat interval for the ZMQ listener, ms. */
  readonly zmqHeartbeatIntervalMs?: number;
  /** Timeout of one long poll, ms (default 120,000; Core answers within about a minute when transactions arrive). */
  readonly longPollTimeoutMs?: number;
}

/** Least time between two long polls' starts, ms: a node answering at once cannot spin us. */
const MIN_LONG_POLL_SPACING_MS = 100;

/** Default `update_interval`, s. */
export const DEFAULT_UPDATE_INTERVAL_S = 30;

/** Core's and bcoin's answers for a block the node already has ("duplicate"), besides null. */
const SUBMIT_ACCEPTED = new Set<string | null>([null, "duplicate", "rejected: duplicate"]);
/** btcd's answer for a block it already has (ErrDuplicateBlock), Core's "duplicate". */
const BTCD_DUPLICATE = /^rejected: already have block [0-9a-f]{64}$/;

function isAcceptedAnswer(result: string | null): boolean {
  return SUBMIT_ACCEPTED.has(result) || (result !== null && BTCD_DUPLICATE.test(result));
}

const PRIORITY: Readonly<Record<TemplateReason, number>> = {
  new_block: 3,
  failover: 2,
  startup: 1,
  refresh: 0,
};

interface FetchRequest {
  readonly reason: TemplateReason;
  readonly source: TemplateTrigger;
  /** The tip this request was made for (ZMQ or poll), for de-duplication. */
  readonly tipHash: string | undefined;
}

function merge(a: FetchRequest | undefined, b: FetchRequest): FetchRequest {
  if (a === undefined) return b;
  const winner = PRIORITY[b.reason] > PRIORITY[a.reason] ? b : a;
  return { ...winner, tipHash: b.tipHash ?? a.tipHash };
}

/** Templates from bitcoind via getblocktemplate, ZMQ and polling, over an ordered node pool. */
export class BitcoindTemplateSource implements TemplateSource {
  readonly #pool: BitcoindPool;
  readonly #ownsPool: boolean;
  readonly #log: StructuredLogger;
  readonly #now: () => number;
  readonly #blockpollMs: number;
  readonly #updateIntervalMs: number;
  readonly #pollTimeoutMs: number;
  readonly #retryDelayMs: number;
  readonly #zmq: ZmqBlockListener | undefined;
  readonly #longPollEnabled: boolean;
  readonly #longPollTimeoutMs: number;

  #state: "idle" | "running" | "stopped" = "idle";
  #onTemplate: (update: TemplateUpdate) => void = () => {};
  #controller = new AbortController();
  #unsubscribeSwitch: (() => void) | undefined;
  #first = Promise.withResolvers<void>();

  #inFlight: Promise<void> | undefined;
  #inFlightTip: string | undefined;
  #pending: FetchRequest | undefined;
  #deliveredPrevHash: string | undefined;
  #lastTemplateAtMs = 0;
  #lastFetchOk = false;
  #templates = 0;

  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #pollRun: Promise<void> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  /** The last delivered template's `longpollid`; the long poll loop watches it. */
  #longPollId: string | undefined;
  #longPollIdChanged = Promise.withResolvers<void>();
  #longPollRun: Promise<void> | undefined;
  #longPolls = 0;

  /**
   * @param config btcd, blockpoll, update_interval and zmqblock from the service config
   * @param options dependencies and tuning
   * @throws {RangeError} or {TypeError} for an unusable config
   */
  constructor(config: BitcoindSourceConfig, options: BitcoindTemplateSourceOptions = {}) {
    this.#blockpollMs = config.blockpoll ?? DEFAULT_BLOCKPOLL_MS;
    this.#updateIntervalMs = (config.update_interval ?? DEFAULT_UPDATE_INTERVAL_S) * 1_000;
    this.#pollTimeoutMs = options.pollTimeoutMs ?? 2_000;
    this.#retryDelayMs = options.retryDelayMs ?? Math.max(this.#blockpollMs * 10, 1_000);
    this.#longPollEnabled = config.longpoll ?? true;
    this.#longPollTimeoutMs = options.longPollTimeoutMs ?? 120_000;
    for (
      const [name, value] of [
        ["blockpoll", this.#blockpollMs],
        ["update_interval", this.#updateIntervalMs],
        ["pollTimeoutMs", this.#pollTimeoutMs],
        ["retryDelayMs", this.#retryDelayMs],
        ["longPollTimeoutMs", this.#longPollTimeoutMs],
      ] as const
    ) {
      if (!(value > 0)) {
        throw new RangeError(`Cannot create template source: ${name} must be positive`);
      }
    }
    this.#log = options.logger ?? getLogger(["bitcoind", "templates"]);
    this.#now = options.now ?? Date.now;
    this.#ownsPool = options.pool === undefined;
    this.#pool = options.pool ?? new BitcoindPool({
      nodes: config.btcd,
      blockpollMs: this.#blockpollMs,
      logger: this.#log.getChild("pool"),
      ...(options.rpcTimeoutMs === undefined ? {} : { rpcTimeoutMs: options.rpcTimeoutMs }),
      ...(options.healthCheckIntervalMs === undefined
        ? {}
        : { healthCheckIntervalMs: options.healthCheckIntervalMs }),
    });
    this.#zmq = config.zmqblock === undefined ? undefined : new ZmqBlockListener({
      endpoint: config.zmqblock,
      logger: this.#log.getChild("zmq"),
      onBlock: (hashHex) => this.#onTip(hashHex, TemplateTrigger.zmq),
      // Lost messages: ask for a template now; it tells whether the tip moved.
      onGap: () => this.#request(TemplateReason.newBlock, TemplateTrigger.zmq, undefined),
      ...(options.zmqHeartbeatIntervalMs === undefined
        ? {}
        : { heartbeatIntervalMs: options.zmqHeartbeatIntervalMs }),
    });
  }

  /** The node pool (active node, chain, validateaddress, statuses). */
  get pool(): BitcoindPool {
    return this.#pool;
  }

  /** The ZMQ listener, when `zmqblock` is configured. */
  get zmq(): ZmqBlockListener | undefined {
    return this.#zmq;
  }

  /** Running, the active node answers, and the last getblocktemplate succeeded. */
  get healthy(): boolean {
    return this.#state === "running" && this.#pool.connected && this.#lastFetchOk;
  }

  /** When the last template arrived, ms since the epoch; 0 before the first. */
  get lastTemplateAtMs(): number {
    return this.#lastTemplateAtMs;
  }

  /** Long polls the node answered with a template so far. */
  get longPollsAnswered(): number {
    return this.#longPolls;
  }

  /** Templates delivered so far. */
  get templatesDelivered(): number {
    return this.#templates;
  }

  /**
   * Starts the pool (when owned), ZMQ and polling; resolves after the first template was
   * delivered. While no node can serve one it keeps retrying (logging each failure).
   *
   * @throws {Error} when started twice, when the ZMQ addon cannot load, or when stopped first
   */
  async start(onTemplate: (update: TemplateUpdate) => void): Promise<void> {
    if (this.#state !== "idle") throw new Error(`Cannot start template source: ${this.#state}`);
    this.#state = "running";
    this.#onTemplate = onTemplate;
    try {
      if (this.#ownsPool) await this.#pool.start();
      if (this.#state === "running") await this.#zmq?.start();
    } catch (error) {
      await this.stop();
      throw error;
    }
    if (this.#state !== "running") {
      throw new Error("Cannot start template source: stopped while starting");
    }
    // Subscribed after the pool's first selection, which the startup fetch below covers.
    this.#unsubscribeSwitch = this.#pool.onSwitch((event) => this.#onSwitch(event));
    this.#request(TemplateReason.startup, TemplateTrigger.startup, undefined);
    this.#schedulePoll();
    if (this.#longPollEnabled) this.#longPollRun = this.#longPollLoop();
    await this.#first.promise;
    this.#log.info("template source started", {
      node: this.#pool.activeUrl,
      zmq: this.#zmq?.endpoint ?? null,
      longpoll: this.#longPollEnabled && this.#longPollId !== undefined,
      blockpollMs: this.#blockpollMs,
      updateIntervalMs: this.#updateIntervalMs,
    });
  }

  /** Stops every loop; waits for requests in flight, closes ZMQ, stops an owned pool. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    this.#first.reject(
      new Error("Cannot start template source: stopped before the first template"),
    );
    this.#first.promise.catch(() => undefined);
    this.#unsubscribeSwitch?.();
    this.#unsubscribeSwitch = undefined;
    for (const timer of [this.#pollTimer, this.#refreshTimer, this.#retryTimer]) {
      clearTimeout(timer);
    }
    this.#pollTimer = this.#refreshTimer = this.#retryTimer = undefined;
    this.#pending = undefined;
    this.#controller.abort();
    this.#longPollIdChanged.resolve();
    await Promise.all([this.#inFlight, this.#pollRun, this.#longPollRun, this.#zmq?.close()]);
    if (this.#ownsPool) await this.#pool.stop();
  }

  /**
   * Submits a block to every node in parallel, then checks each node's tip.
   *
   * @param hex the serialized block
   * @throws {TypeError} when `hex` is not the hex of at least a block header
   */
  async submitBlock(hex: string): Promise<BlockSubmitResult> {
    if (hex.length < HEADER_BYTES * 2 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
      throw new TypeError("Cannot submit block: not the hex of a serialized block");
    }
    const blockHash = blockHashHex(hexToBytes(hex.slice(0, HEADER_BYTES * 2)));
    const submitted = await this.#pool.submitBlock(hex);
    const tips = await this.#pool.bestBlockHashes({ timeoutMs: this.#pollTimeoutMs });
    const results = submitted.map((r, i): NodeBlockSubmitResult => ({
      ...r,
      tipMoved: tips[i]?.hash === blockHash,
    }));
    const accepted = results.some((r) => r.error === undefined && isAcceptedAnswer(r.result));
    const tipMoved = results.some((r) => r.tipMoved);
    (accepted ? this.#log.info : this.#log.error).call(this.#log, "block submitted", {
      blockHash,
      accepted,
      tipMoved,
      results,
    });
    if (tipMoved) this.#onTip(blockHash, TemplateTrigger.poll);
    return { accepted, results, tipMoved, blockHash };
  }

  #onSwitch(event: NodeSwitchEvent): void {
    if (this.#state !== "running") return;
    if (this.#templates === 0) {
      this.#request(TemplateReason.startup, TemplateTrigger.startup, undefined);
    } else {
      this.#log.info("template node switched", { ...event });
      this.#request(TemplateReason.failover, TemplateTrigger.switch, undefined);
    }
  }

  /** A tip was announced (ZMQ) or observed (poll): fetch unless a template covers it already. */
  #onTip(hashHex: string, trigger: TemplateTrigger): void {
    if (this.#state !== "running") return;
    if (hashHex === this.#deliveredPrevHash) return;
    if (hashHex === this.#inFlightTip || hashHex === this.#pending?.tipHash) return;
    // getblocktemplate is failing: the scheduled retry fetches on the current tip anyway, and
    // polling must not turn a failing node into ten requests a second.
    if (this.#retryTimer !== undefined) return;
    this.#log.debug("new tip", { hash: hashHex, trigger });
    this.#request(TemplateReason.newBlock, trigger, hashHex);
  }

  #request(reason: TemplateReason, source: TemplateTrigger, tipHash: string | undefined): void {
    if (this.#state !== "running") return;
    const request: FetchRequest = { reason, source, tipHash };
    if (this.#inFlight !== undefined) {
      this.#pending = merge(this.#pending, request);
      return;
    }
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#inFlight = this.#fetchLoop(request).finally(() => {
      this.#inFlight = undefined;
      this.#inFlightTip = undefined;
    });
  }

  async #fetchLoop(first: FetchRequest): Promise<void> {
    let next: FetchRequest | undefined = first;
    while (next !== undefined && this.#state === "running") {
      this.#inFlightTip = next.tipHash;
      await this.#fetch(next);
      next = this.#pending;
      this.#pending = undefined;
    }
  }

  async #fetch(request: FetchRequest): Promise<void> {
    const signal = this.#controller.signal;
    let gbt: unknown;
    try {
      gbt = await this.#pool.getBlockTemplate({ signal });
    } catch (error) {
      if (signal.aborted) return;
      this.#lastFetchOk = false;
      this.#log.error("getblocktemplate failed", {
        reason: request.reason,
        source: request.source,
        error: error instanceof Error ? error.message : String(error),
        retryInMs: this.#retryDelayMs,
      });
      this.#scheduleRetry(request);
      return;
    }
    this.#accept(gbt, request);
  }

  /** Delivers one template (from a fetch or a long poll); runs synchronously. */
  #accept(gbt: unknown, request: FetchRequest): void {
    if (this.#state !== "running") return;
    const receivedAtMs = this.#now();
    const prevHash = previousBlockHash(gbt);
    const prevChanged = this.#deliveredPrevHash !== undefined && prevHash !== undefined &&
      prevHash !== this.#deliveredPrevHash;
    // The reason follows what the template is, not only what asked for it.
    const reason: TemplateReason = this.#templates === 0
      ? TemplateReason.startup
      : prevChanged
      ? TemplateReason.newBlock
      : request.reason === TemplateReason.newBlock || request.reason === TemplateReason.startup
      ? TemplateReason.refresh
      : request.reason;
    if (prevHash !== undefined) this.#deliveredPrevHash = prevHash;
    this.#lastTemplateAtMs = receivedAtMs;
    this.#lastFetchOk = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#templates++;
    this.#scheduleRefresh();
    const longPollId = longPollIdOf(gbt);
    if (longPollId !== this.#longPollId) {
      this.#longPollId = longPollId;
      this.#longPollIdChanged.resolve();
    }
    this.#log.debug("template", {
      reason,
      source: request.source,
      prevHash,
      node: this.#pool.activeUrl,
    });
    try {
      this.#onTemplate({ gbt, reason, source: request.source, receivedAtMs });
    } catch (error) {
      this.#log.error("template consumer threw", { error: String(error) });
    }
    this.#first.resolve();
  }

  /**
   * Keeps one long poll open while running. Bounded: every call has a timeout, failures wait the
   * retry delay, and the loop ends on stop.
   */
  async #longPollLoop(): Promise<void> {
    const signal = this.#controller.signal;
    let loggedFailure = false;
    while (this.#state === "running") {
      const id = this.#longPollId;
      if (id === undefined) {
        // No template yet, or the node sends no longpollid: wait for the next template.
        this.#longPollIdChanged = Promise.withResolvers<void>();
        await this.#longPollIdChanged.promise;
        continue;
      }
      let gbt: unknown;
      const sentAtMs = performance.now();
      try {
        gbt = await this.#pool.longPollBlockTemplate(id, {
          signal,
          timeoutMs: this.#longPollTimeoutMs,
        });
      } catch (error) {
        if (signal.aborted) return;
        const timedOut = error instanceof RpcTransportError &&
          error.failure === TransportFailure.timeout;
        if (!timedOut && !loggedFailure) {
          this.#log.warn("long poll failed; retrying", {
            error: error instanceof Error ? error.message : String(error),
            retryInMs: this.#retryDelayMs,
          });
          loggedFailure = true;
        }
        if (!timedOut) await this.#sleep(this.#retryDelayMs);
        continue;
      }
      loggedFailure = false;
      if (this.#state !== "running") return;
      this.#longPolls++;
      const answeredId = longPollIdOf(gbt);
      this.#deliverLongPoll(gbt);
      // Watch the answer's id next, even when its template was folded into a fetch still in
      // flight: the old id would be answered at once again.
      if (answeredId !== undefined && answeredId !== id) this.#longPollId = answeredId;
      // A node that does not hold long polls answers at once with the same id: do not spin.
      if (answeredId === id) await this.#sleep(this.#updateIntervalMs);
      // Nor more than ten a second, whatever the node answers.
      const elapsedMs = performance.now() - sentAtMs;
      if (elapsedMs < MIN_LONG_POLL_SPACING_MS) {
        await this.#sleep(MIN_LONG_POLL_SPACING_MS - elapsedMs);
      }
    }
  }

  /**
   * A long poll's template: delivered directly when no fetch is running (nothing newer can be
   * on its way), else folded into the pending fetch so templates stay in order.
   */
  #deliverLongPoll(gbt: unknown): void {
    const request: FetchRequest = {
      reason: TemplateReason.refresh,
      source: TemplateTrigger.poll,
      tipHash: previousBlockHash(gbt),
    };
    if (this.#inFlight === undefined && this.#pending === undefined) {
      this.#log.debug("long poll answered", { prevHash: request.tipHash });
      this.#accept(gbt, request);
      return;
    }
    const prevHash = request.tipHash;
    if (prevHash !== undefined && prevHash !== this.#deliveredPrevHash) {
      this.#onTip(prevHash, TemplateTrigger.poll);
    } else {
      this.#request(TemplateReason.refresh, TemplateTrigger.poll, undefined);
    }
  }

  /** Waits `ms` or until stop. */
  #sleep(ms: number): Promise<void> {
    const signal = this.#controller.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done);
    });
  }

  #scheduleRetry(request: FetchRequest): void {
    if (this.#state !== "running" || this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#request(request.reason, request.source, request.tipHash);
    }, this.#retryDelayMs);
  }

  #scheduleRefresh(): void {
    clearTimeout(this.#refreshTimer);
    if (this.#state !== "running") return;
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = undefined;
      this.#request(TemplateReason.refresh, TemplateTrigger.timer, undefined);
    }, this.#updateIntervalMs);
  }

  #schedulePoll(): void {
    if (this.#state !== "running") return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      this.#pollRun = this.#poll().finally(() => {
        this.#pollRun = undefined;
        this.#schedulePoll();
      });
    }, this.#blockpollMs);
  }

  async #poll(): Promise<void> {
    const signal = this.#controller.signal;
    let hash: string;
    try {
      hash = await this.#pool.getBestBlockHash({ signal, timeoutMs: this.#pollTimeoutMs });
    } catch (error) {
      if (!signal.aborted) {
        this.#log.debug("getbestblockhash failed", {
          error: error instanceof Error ? error.message : String(error),
        });
      }
      return;
    }
    this.#onTip(hash, TemplateTrigger.poll);
  }
}

function longPollIdOf(gbt: unknown): string | undefined {
  if (typeof gbt !== "object" || gbt === null) return undefined;
  const value = (gbt as { longpollid?: unknown }).longpollid;
  // Bounded: the id is echoed back to the node on every long poll.
  return typeof value === "string" && value.length > 0 && value.length <= 256 ? value : undefined;
}

function previousBlockHash(gbt: unknown): string | undefined {
  if (typeof gbt !== "object" || gbt === null) return undefined;
  const value = (gbt as { previousblockhash?: unknown }).previousblockhash;
  return typeof value === "string" ? value.toLowerCase() : undefined;
}
