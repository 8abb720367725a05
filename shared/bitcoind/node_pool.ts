/**
 * The configured bitcoind nodes (`btcd[]`) as an ordered failover group.
 *
 * Invariants:
 * - Every call goes to the one active node. When it fails below the RPC layer (refused, timeout,
 *   401, garbage) or answers "warming up" (-28) or "in initial download" (-10), the pool switches
 *   at once to the most preferred other node that passes a probe, and retries the call there.
 * - A node is eligible only when getblockchaininfo answers and says initialblockdownload=false
 *   (or, for nodes that do not report it, the pool derives it: chain_state.ts): a syncing
 *   node's templates would build on a stale tip.
 * - A node whose getblocktemplate was refused with -10 (downloading blocks) or -9 (not
 *   connected) stays ineligible until a probe's getblocktemplate succeeds: its getblockchaininfo
 *   may look fine (Core's -9, btcd's sync state), and switching back to it at every health
 *   check would flap. Until another node serves, the engine keeps its last work.
 * - A background health check probes every node and fails back to the first eligible one, so the
 *   preferred node (index 0) is used whenever it is healthy.
 * - Block submission ignores all of this and goes to every node in parallel: a found block must
 *   reach the network by every path.
 *
 * Only this class changes the active node; switches are serialised by an internal lock.
 *
 * @module
 */
import { getLogger, type StructuredLogger } from "../log/logger.ts";
import {
  type BitcoindRpc,
  type BlockchainInfo,
  type BlockHeaderInfo,
  DEFAULT_RPC_TIMEOUT_MS,
  isNodeUnavailable,
  isTemplateRefusal,
  type NetworkInfo,
  RpcTransportError,
  TransportFailure,
  type ValidateAddressResult,
} from "./rpc_client.ts";
import { ObservedBitcoindRpc, type RpcCallObserver, type RpcCallRecord } from "./observed_rpc.ts";

/** One `btcd[]` config entry. */
export interface BtcdNodeConfig {
  /** `host:port` or `http://host:port`. */
  readonly url: string;
  /** rpcuser. */
  readonly auth: string;
  /** rpcpassword. */
  readonly pass: string;
  /** The node announces blocks itself (ZMQ/blocknotify); informational here. */
  readonly notify?: boolean;
}

/** Why the active node changed. */
export const SwitchReason = {
  /** The first eligible node was chosen. */
  startup: "startup",
  /** The active node failed; another took over. */
  failure: "failure",
  /** A more preferred node is healthy again. */
  failback: "failback",
  /** No node was answering; the active one answers again (from and to are the same node). */
  reconnect: "reconnect",
} as const;

/** One of {@link SwitchReason}. */
export type SwitchReason = typeof SwitchReason[keyof typeof SwitchReason];

/** Passed to {@link BitcoindPool.onSwitch} listeners. */
export interface NodeSwitchEvent {
  /** Previous active index, -1 when none. */
  readonly fromIndex: number;
  /** New active index. */
  readonly toIndex: number;
  readonly fromUrl: string | null;
  readonly toUrl: string;
  readonly reason: SwitchReason;
}

/** What the pool last learned about one node. */
export interface NodeStatus {
  readonly index: number;
  /** `http://host:port`, no credentials. */
  readonly url: string;
  /** Answered its last probe or call and is not in initial block download. */
  readonly eligible: boolean;
  /** From the last successful probe; undefined before one. */
  readonly initialBlockDownload: boolean | undefined;
  /** The node's chain from the last successful probe. */
  readonly chain: string | undefined;
  /** Why the node is not eligible, when it is not. */
  readonly lastError: string | undefined;
  /** getblockchaininfo probes answered or failed so far. */
  readonly probes: number;
}

/** The answer of one node to submitblock. */
export interface NodeSubmitResult {
  readonly url: string;
  /** `null` when accepted, else the node's reject reason; also null when `error` is set. */
  readonly result: string | null;
  /** Set when the node could not be asked (transport or RPC error). */
  readonly error?: string;
}

/** One node's best block hash. */
export interface NodeTip {
  readonly url: string;
  /** Display hex, or null when the node could not be asked. */
  readonly hash: string | null;
  readonly error?: string;
}

/** Options of {@link BitcoindPool}. */
export interface BitcoindPoolOptions {
  /** Nodes in order of preference; at least one. */
  readonly nodes: readonly BtcdNodeConfig[];
  /** `blockpoll` from the config, ms (default 100); sets the default health interval. */
  readonly blockpollMs?: number;
  /** Health check interval, ms (default max(blockpoll × 10, 1000)). */
  readonly healthCheckIntervalMs?: number;
  /** Default per-call timeout, ms (default 10,000). */
  readonly rpcTimeoutMs?: number;
  /** Timeout of one health probe, ms (default 2,000). */
  readonly probeTimeoutMs?: number;
  /** Timeout of one node's submitblock, ms (default 60,000). */
  readonly submitTimeoutMs?: number;
  /** Defaults to the `["bitcoind", "pool"]` logger. */
  readonly logger?: StructuredLogger;
}

/** Per-call options of the pool. */
export interface PoolCallOptions {
  /** Per-attempt timeout, ms. */
  readonly timeoutMs?: number;
  /** Aborts the call (e.g. on shutdown); an abort never causes a switch. */
  readonly signal?: AbortSignal;
}

/** Default `blockpoll`, ms, as in ckpool. */
export const DEFAULT_BLOCKPOLL_MS = 100;
const DEFAULT_PROBE_TIMEOUT_MS = 2_000;
const IBD_STATE = "initial block download";
const DEFAULT_SUBMIT_TIMEOUT_MS = 60_000;

interface NodeState {
  readonly index: number;
  readonly rpc: BitcoindRpc;
  eligible: boolean;
  initialBlockDownload: boolean | undefined;
  chain: string | undefined;
  lastError: string | undefined;
  probes: number;
  /** Set by a -10/-9 getblocktemplate refusal; cleared when a probe's template succeeds. */
  templateRefusal: string | undefined;
}

/** An ordered failover group of bitcoind nodes. */
export class BitcoindPool {
  readonly #nodes: readonly NodeState[];
  readonly #log: StructuredLogger;
  readonly #healthIntervalMs: number;
  readonly #probeTimeoutMs: number;
  readonly #submitTimeoutMs: number;
  readonly #listeners = new Set<(event: NodeSwitchEvent) => void>();
  readonly #callObservers = new Set<RpcCallObserver>();
  #active = -1;
  #connected = false;
  #lock: Promise<void> = Promise.resolve();
  #started = false;
  #stopController = new AbortController();
  #healthTimer: ReturnType<typeof setTimeout> | undefined;
  #healthRun: Promise<void> | undefined;

  /**
   * @param options nodes in preference order and timing
   * @throws {RangeError} when no node is given or a timing is not positive
   * @throws {TypeError} when a node url is malformed
   */
  constructor(options: BitcoindPoolOptions) {
    if (options.nodes.length === 0) {
      throw new RangeError("Cannot create bitcoind pool: btcd lists no node");
    }
    const rpcTimeoutMs = options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.#nodes = options.nodes.map((node, index) => ({
      index,
      rpc: new ObservedBitcoindRpc({
        url: node.url,
        auth: node.auth,
        pass: node.pass,
        timeoutMs: rpcTimeoutMs,
      }, (record) => this.#observeCall(record)),
      eligible: false,
      initialBlockDownload: undefined,
      chain: undefined,
      lastError: "not probed yet",
      probes: 0,
      templateRefusal: undefined,
    }));
    const blockpollMs = options.blockpollMs ?? DEFAULT_BLOCKPOLL_MS;
    this.#healthIntervalMs = options.healthCheckIntervalMs ?? Math.max(blockpollMs * 10, 1_000);
    this.#probeTimeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    this.#submitTimeoutMs = options.submitTimeoutMs ?? DEFAULT_SUBMIT_TIMEOUT_MS;
    for (
      const [name, value] of [
        ["blockpoll", blockpollMs],
        ["healthCheckIntervalMs", this.#healthIntervalMs],
        ["probeTimeoutMs", this.#probeTimeoutMs],
        ["submitTimeoutMs", this.#submitTimeoutMs],
      ] as const
    ) {
      if (!(value > 0)) {
        throw new RangeError(`Cannot create bitcoind pool: ${name} must be positive, got ${value}`);
      }
    }
    this.#log = options.logger ?? getLogger(["bitcoind", "pool"]);
  }

  /** Index of the active node in `btcd[]`, -1 before any node was eligible. */
  get activeIndex(): number {
    return this.#active;
  }

  /** URL of the active node (no credentials), null before any node was eligible. */
  get activeUrl(): string | null {
    return this.#active < 0 ? null : this.#nodes[this.#active]!.rpc.url;
  }

  /** Whether the active node answered its last call or probe and is eligible. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The health check interval in use, ms. */
  get healthCheckIntervalMs(): number {
    return this.#healthIntervalMs;
  }

  /** What the pool last learned about each node, in `btcd[]` order. */
  nodeStatuses(): NodeStatus[] {
    return this.#nodes.map((node) => ({
      index: node.index,
      url: node.rpc.url,
      eligible: node.eligible,
      initialBlockDownload: node.initialBlockDownload,
      chain: node.chain,
      lastError: node.lastError,
      probes: node.probes,
    }));
  }

  /**
   * One line for `/health` and logs: the active node, or why no node is eligible (each node's
   * last error, e.g. its getblocktemplate refusal).
   */
  eligibilityDetail(): string {
    if (this.#connected && this.#active >= 0) {
      return `connected to ${this.#nodes[this.#active]!.rpc.url}`;
    }
    const states = this.#nodes.map((n) => `${n.rpc.url}: ${n.lastError ?? "eligible"}`);
    return `no eligible node (${states.join("; ")})`;
  }

  /**
   * Registers a listener for changes of the active node (and reconnects to it).
   *
   * @returns a function that removes the listener
   */
  onSwitch(listener: (event: NodeSwitchEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Probes every node, makes the first eligible one active (if any) and starts the health
   * check. Resolves even when no node is eligible yet; the health check keeps looking.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopController = new AbortController();
    this.#healthRun = this.#healthCheck();
    await this.#healthRun;
    this.#scheduleHealthCheck();
  }

  /** Stops the health check and waits for its probes; calls may still be made afterwards. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    clearTimeout(this.#healthTimer);
    this.#healthTimer = undefined;
    this.#stopController.abort();
    await this.#healthRun;
  }

  /**
   * Runs `fn` against the active node, failing over to the next eligible node (and retrying
   * there) when the node is unavailable. Other RPC errors are thrown as they are.
   *
   * @param method the RPC method `fn` calls, for error messages
   * @throws the last node's error, or an {@link RpcTransportError} listing every node's state,
   *   when no node could serve the call
   */
  async call<T>(
    method: string,
    fn: (rpc: BitcoindRpc, options: PoolCallOptions) => Promise<T>,
    options: PoolCallOptions = {},
  ): Promise<T> {
    const tried = new Set<number>();
    let lastError: unknown = undefined;
    while (true) {
      let index = this.#active;
      if (index < 0 || tried.has(index)) {
        index = await this.#failover(tried, options.signal);
        if (index < 0) throw lastError ?? this.#noEligibleNode(method);
      }
      tried.add(index);
      const node = this.#nodes[index]!;
      try {
        const result = await fn(node.rpc, options);
        this.#markAnswered(node);
        return result;
      } catch (error) {
        if (options.signal?.aborted === true || !isNodeUnavailable(error)) throw error;
        lastError = error;
        if (isTemplateRefusal(error)) this.#markRefused(node, error.code, error.rpcMessage);
        else this.#markFailed(node, error);
      }
    }
  }

  #noEligibleNode(method: string): RpcTransportError {
    const states = this.#nodes.map((n) => `${n.rpc.url}: ${n.lastError ?? "eligible"}`);
    return new RpcTransportError(
      this.#nodes.map((n) => n.rpc.url).join(", "),
      method,
      TransportFailure.unreachable,
      `no eligible bitcoind node (${states.join("; ")})`,
    );
  }

  /** getblocktemplate with the segwit rule, on the active node: the raw result. */
  getBlockTemplate(options: PoolCallOptions = {}): Promise<unknown> {
    return this.call("getblocktemplate", (rpc, o) => rpc.getBlockTemplate(o), options);
  }

  /**
   * A BIP22 long poll on the active node only. No failover, and a transport failure does not
   * change the node's health (a long poll that ends without a template is normal; the regular
   * getblocktemplate path decides). A -10/-9 refusal does: it is the node saying it cannot mine.
   *
   * @throws {RpcTransportError} when no node is active, else the node's error
   */
  longPollBlockTemplate(longPollId: string, options: PoolCallOptions = {}): Promise<unknown> {
    const node = this.#active < 0 || !this.#connected ? undefined : this.#nodes[this.#active];
    if (node === undefined) {
      return Promise.reject(
        new RpcTransportError(
          this.#nodes.map((n) => n.rpc.url).join(", "),
          "getblocktemplate",
          TransportFailure.unreachable,
          "no active bitcoind node to long poll",
        ),
      );
    }
    return node.rpc.longPollBlockTemplate(longPollId, options).catch((error: unknown) => {
      if (isTemplateRefusal(error)) this.#markRefused(node, error.code, error.rpcMessage);
      throw error;
    });
  }

  /** getbestblockhash on the active node. */
  getBestBlockHash(options: PoolCallOptions = {}): Promise<string> {
    return this.call("getbestblockhash", (rpc, o) => rpc.getBestBlockHash(o), options);
  }

  /** getblockchaininfo on the active node. */
  getBlockchainInfo(options: PoolCallOptions = {}): Promise<BlockchainInfo> {
    return this.call("getblockchaininfo", (rpc, o) => rpc.getBlockchainInfo(o), options);
  }

  /** getblockcount on the active node. */
  getBlockCount(options: PoolCallOptions = {}): Promise<number> {
    return this.call("getblockcount", (rpc, o) => rpc.getBlockCount(o), options);
  }

  /** getblockheader on the active node. */
  getBlockHeader(hashHex: string, options: PoolCallOptions = {}): Promise<BlockHeaderInfo> {
    return this.call("getblockheader", (rpc, o) => rpc.getBlockHeader(hashHex, o), options);
  }

  /** validateaddress on the active node. */
  validateAddress(address: string, options: PoolCallOptions = {}): Promise<ValidateAddressResult> {
    return this.call("validateaddress", (rpc, o) => rpc.validateAddress(address, o), options);
  }

  /** getnetworkinfo on the active node. */
  getNetworkInfo(options: PoolCallOptions = {}): Promise<NetworkInfo> {
    return this.call("getnetworkinfo", (rpc, o) => rpc.getNetworkInfo(o), options);
  }

  /** The active node's chain (`main`, `test`, `testnet4`, `signet`, `regtest`). */
  async chain(options: PoolCallOptions = {}): Promise<string> {
    return (await this.getBlockchainInfo(options)).chain;
  }

  /**
   * Submits a block to every node in parallel, whatever their health.
   *
   * @param blockHex the serialized block
   * @returns one result per node, in `btcd[]` order; never throws for a node's failure
   */
  submitBlock(blockHex: string, options: PoolCallOptions = {}): Promise<NodeSubmitResult[]> {
    const callOptions = {
      timeoutMs: options.timeoutMs ?? this.#submitTimeoutMs,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    return Promise.all(this.#nodes.map(async (node): Promise<NodeSubmitResult> => {
      try {
        const result = await node.rpc.submitBlock(blockHex, callOptions);
        this.#log.info("submitblock answered", { url: node.rpc.url, result });
        return { url: node.rpc.url, result };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.#log.error("submitblock failed", { url: node.rpc.url, error: message });
        return { url: node.rpc.url, result: null, error: message };
      }
    }));
  }

  /**
   * Asks every node for its best block hash in parallel, whatever their health.
   *
   * @returns one entry per node, in `btcd[]` order; `hash` is null when the node failed
   */
  bestBlockHashes(options: PoolCallOptions = {}): Promise<NodeTip[]> {
    return Promise.all(this.#nodes.map(async (node): Promise<NodeTip> => {
      try {
        return { url: node.rpc.url, hash: await node.rpc.getBestBlockHash(options) };
      } catch (error) {
        return {
          url: node.rpc.url,
          hash: null,
          error: error instanceof Error ? error.message : String(error),
        };
      }
    }));
  }

  /**
   * Registers an observer of every RPC call to every node (probes, templates, submissions), for
   * latency metrics. It runs on the caller's path: it must be cheap and must not throw.
   *
   * @returns a function that removes the observer
   */
  onRpcCall(observer: RpcCallObserver): () => void {
    this.#callObservers.add(observer);
    return () => this.#callObservers.delete(observer);
  }

  #observeCall(record: RpcCallRecord): void {
    for (const observer of this.#callObservers) {
      try {
        observer(record);
      } catch (error) {
        this.#log.error("rpc call observer threw", { error: String(error) });
      }
    }
  }

  #emit(event: NodeSwitchEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log.error("switch listener threw", { error: String(error) });
      }
    }
  }

  /** Runs `fn` with the switch lock held, so switches never interleave. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.then(() => undefined, () => undefined);
    return run;
  }

  #setActive(index: number, reason: SwitchReason): void {
    const from = this.#active;
    const wasConnected = this.#connected;
    this.#active = index;
    this.#connected = true;
    if (from === index && wasConnected) return;
    const event: NodeSwitchEvent = {
      fromIndex: from,
      toIndex: index,
      fromUrl: from < 0 ? null : this.#nodes[from]!.rpc.url,
      toUrl: this.#nodes[index]!.rpc.url,
      reason: from === index ? SwitchReason.reconnect : reason,
    };
    this.#log.warn("bitcoind node switch", { ...event });
    this.#emit(event);
  }

  #markAnswered(node: NodeState): void {
    if (node.index !== this.#active || this.#connected) return;
    // Other calls (getbestblockhash polling) succeed on a node that refuses templates.
    if (node.initialBlockDownload === true || node.templateRefusal !== undefined) return;
    node.eligible = true;
    node.lastError = undefined;
    this.#setActive(node.index, SwitchReason.reconnect);
  }

  #markFailed(node: NodeState, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (node.eligible) {
      this.#log.warn("bitcoind node unavailable", { url: node.rpc.url, error: message });
    }
    node.eligible = false;
    node.lastError = message;
    if (node.index === this.#active) this.#connected = false;
  }

  /** A -10/-9 refusal: the node is up but cannot mine; log once per change of reason. */
  #markRefused(node: NodeState, code: number, message: string): void {
    const reason = `getblocktemplate refused (${code}: ${message})`;
    if (node.templateRefusal !== reason) {
      this.#log.warn("bitcoind node not eligible", {
        url: node.rpc.url,
        reason,
        code,
        // Not fatal: the pool fails over, or keeps its last work until the node can mine.
        action: "failover or keep last work",
      });
    }
    node.templateRefusal = reason;
    node.eligible = false;
    node.lastError = reason;
    if (node.index === this.#active) this.#connected = false;
  }

  /**
   * Finds the node a call should try next: the active one if a concurrent call already switched
   * to a node this call has not tried, else the most preferred untried node that passes a probe.
   *
   * @returns the index, or -1 when no node is eligible
   */
  #failover(tried: ReadonlySet<number>, signal: AbortSignal | undefined): Promise<number> {
    return this.#exclusive(async () => {
      if (this.#active >= 0 && !tried.has(this.#active) && this.#connected) return this.#active;
      for (const node of this.#nodes) {
        if (tried.has(node.index) || signal?.aborted === true) continue;
        if (await this.#probe(node, signal)) {
          this.#setActive(
            node.index,
            this.#active < 0 ? SwitchReason.startup : SwitchReason.failure,
          );
          return node.index;
        }
      }
      if (this.#active >= 0) this.#connected = false;
      return -1;
    });
  }

  /** Asks one node for getblockchaininfo and records whether it is eligible. */
  async #probe(node: NodeState, signal: AbortSignal | undefined): Promise<boolean> {
    const answered = await this.#probeOnce(node, signal);
    node.probes++;
    return answered;
  }

  async #probeOnce(node: NodeState, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      const info = await node.rpc.getBlockchainInfo({
        timeoutMs: this.#probeTimeoutMs,
        ...(signal === undefined ? {} : { signal }),
      });
      node.chain = info.chain;
      node.initialBlockDownload = info.initialblockdownload;
      if (info.initialblockdownload) {
        if (node.lastError?.startsWith(IBD_STATE) !== true) {
          this.#log.warn("bitcoind node in initial block download", {
            url: node.rpc.url,
            blocks: info.blocks,
            headers: info.headers,
            reason: info.syncReason ?? null,
            derived: info.initialBlockDownloadDerived,
          });
        }
        node.eligible = false;
        node.lastError = `${IBD_STATE} (${info.blocks}/${info.headers} blocks${
          info.initialBlockDownloadDerived ? `; derived: ${info.syncReason}` : ""
        })`;
        if (node.index === this.#active) this.#connected = false;
        return false;
      }
      if (node.templateRefusal !== undefined && !(await this.#templateServed(node, signal))) {
        return false;
      }
      if (!node.eligible) this.#log.info("bitcoind node eligible", { url: node.rpc.url });
      node.eligible = true;
      node.lastError = undefined;
      return true;
    } catch (error) {
      if (signal?.aborted === true) return false;
      this.#markFailed(node, error);
      return false;
    }
  }

  /** After a refusal: whether getblocktemplate now succeeds (clears the refusal when it does). */
  async #templateServed(node: NodeState, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      await node.rpc.getBlockTemplate({
        timeoutMs: this.#probeTimeoutMs,
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      if (signal?.aborted === true) return false;
      if (isTemplateRefusal(error)) this.#markRefused(node, error.code, error.rpcMessage);
      else this.#markFailed(node, error);
      return false;
    }
    this.#log.info("bitcoind node serves templates again", {
      url: node.rpc.url,
      was: node.templateRefusal,
    });
    node.templateRefusal = undefined;
    return true;
  }

  /** Probes every node in parallel, then makes the first eligible one active. */
  async #healthCheck(): Promise<void> {
    const signal = this.#stopController.signal;
    await Promise.all(this.#nodes.map((node) => this.#probe(node, signal)));
    if (signal.aborted) return;
    await this.#exclusive(() => {
      this.#preferFirstEligible();
      return Promise.resolve();
    });
  }

  /** Health-check decision; runs under the switch lock. */
  #preferFirstEligible(): void {
    const first = this.#nodes.find((node) => node.eligible);
    if (first === undefined) {
      if (this.#connected) {
        this.#log.error("no eligible bitcoind node", {
          nodes: this.nodeStatuses().map((n) => ({ url: n.url, error: n.lastError })),
        });
      }
      this.#connected = false;
      return;
    }
    const active = this.#active;
    if (active >= 0 && first.index === active) {
      if (!this.#connected) this.#setActive(active, SwitchReason.reconnect);
      return;
    }
    if (active < 0) {
      this.#setActive(first.index, SwitchReason.startup);
    } else if (first.index < active) {
      this.#setActive(first.index, SwitchReason.failback);
    } else if (!this.#nodes[active]!.eligible || !this.#connected) {
      this.#setActive(first.index, SwitchReason.failure);
    }
  }

  #scheduleHealthCheck(): void {
    if (!this.#started) return;
    this.#healthTimer = setTimeout(() => {
      this.#healthTimer = undefined;
      this.#healthRun = this.#healthCheck().catch((error: unknown) => {
        this.#log.error("bitcoind health check failed", { error: String(error) });
      }).finally(() => this.#scheduleHealthCheck());
    }, this.#healthIntervalMs);
  }
}
