/**
 * Assembles a running pool from a validated config and a template source: the engine, its
 * Stratum listeners, the metrics/health listener, the once-a-second tick, and graceful drain.
 * `main.ts` only reads the config and calls this; tests call it in-process.
 */
import { addressToScriptPubKey, type Network } from "@tbg/shared/bitcoin";
import { BlockKeeper, type TemplateSource, type TemplateUpdate } from "@tbg/shared/bitcoind";
import {
  extranonce1Prefix,
  foundBlocksDir,
  httpListeners,
  type StratumConfig,
  stratumListeners,
  stratumTlsListeners,
} from "@tbg/shared/config";
import {
  type BlockSubmitter,
  type Clock,
  connectionCapForOpenFiles,
  DEFAULT_MAX_QUEUED_BYTES,
  defaultRequestBudget,
  type DifficultyMemory,
  Engine,
  type EngineOptions,
  type EventSink,
  InMemoryDifficultyMemory,
  type Session,
  spreadReconnects,
  StratumServer,
  systemClock,
  TlsTerminator,
} from "@tbg/shared/engine";
import type { EventEmitter } from "@tbg/shared/emitter";
import type { StructuredLogger } from "@tbg/shared/log";
import type { PrimaryTemplateDistribution } from "@tbg/shared/templates";
import { BurstCollection, POOL_BURST_COLLECTION } from "./burst_collection.ts";
// The NATS-free parts of the templates module: the NATS client loads only when configured.
import { blockTemplateOf, isPrimaryTemplateUpdate } from "@tbg/shared/template-update";
import {
  type BitcoinNodeWatchOptions,
  metricsObserver,
  type MetricsServer,
  PoolMetrics,
  registerTlsMetrics,
  startMetricsServer,
  stratumHealth,
  watchBitcoinNode,
} from "@tbg/shared/metrics";

/** Longest line accepted from a miner. */
export const MAX_LINE_BYTES = 16 * 1024;
/** Output a slow reader may leave unread before it is disconnected (queued plus in a pending write). */
export const MAX_QUEUED_BYTES = DEFAULT_MAX_QUEUED_BYTES;
/** Read buffer per connection: small because every idle connection holds one (a submit is ~150 B). */
export const READ_BUFFER_BYTES = 1024;
/** Shares at the old difficulty are still accepted this long after a retarget. */
export const DIFFICULTY_GRACE_MS = 15_000;
/** A connection that has not authorized within this time is closed. */
export const AUTHORIZE_TIMEOUT_MS = 60_000;

/** What the runtime needs besides the config. */
export interface PoolRuntimeDeps {
  readonly config: StratumConfig;
  readonly network: Network;
  readonly source: TemplateSource;
  readonly log: StructuredLogger;
  /**
   * Where events go: omitted → the NATS JetStream emitter built from `config.events` (when
   * enabled); null → nowhere (tests of the share path alone); or a sink the caller owns.
   */
  readonly events?: EventSink | null;
  readonly clock?: Clock;
  readonly difficultyMemory?: DifficultyMemory;
  /** Instance label for metrics (e.g. `stratum-eu-1`). */
  readonly instance: string;
  /**
   * Process index 0–255 on this host: the second byte of every extranonce1 this process hands
   * out (after the region's `region_index`), so processes sharing a port (reuse_port) never give
   * two miners identical work.
   */
  readonly instanceIndex?: number;
  /**
   * RLIMIT_NOFILE soft limit (`--nofile-limit`): `maxclients` is lowered to fit under it after
   * `open_files_reserve`; null or omitted: `maxclients` as configured.
   */
  readonly nofileLimit?: number | null;
  /**
   * The `btcd[]` pool behind `source`: its calls are timed and its active node polled for the
   * `bitcoin_*` node metrics (`node_stats_poll_ms`). Omitted: no node metrics.
   */
  readonly nodePool?: BitcoinNodeWatchOptions["pool"];
  /** Reports whether bitcoind is reachable (for metrics and /health). */
  readonly bitcoindConnected: () => boolean;
  /** Why bitcoind is not usable (e.g. a node refusing templates), for /health; optional. */
  readonly bitcoindDetail?: () => string;
  /** Extra handler for each template (the primary publishes templates for relays here). */
  readonly onTemplate?: (update: TemplateUpdate) => void;
}

/** A running pool. */
export interface PoolRuntime {
  readonly engine: Engine;
  readonly server: StratumServer;
  readonly metrics: PoolMetrics;
  readonly metricsServer: MetricsServer | null;
  /** Templates, heartbeats and block submissions for relays; null unless `templates.publish`. */
  readonly distribution: PrimaryTemplateDistribution | null;
  /** TLS termination of the serverurl_tls listeners; null when there are none. */
  readonly tls: TlsTerminator | null;
  /**
   * Re-reads `tls.cert_file` and `tls.key_file` (SIGHUP): true when the new pair is in use,
   * false when it failed (logged, counted, the old pair kept), null without TLS listeners.
   */
  reloadTls(): Promise<boolean | null>;
  /** Drains (client.reconnect to all, stop accepting, wait up to `timeoutMs`) and stops. */
  drainAndStop(timeoutMs: number): Promise<void>;
}

/**
 * A full, memory-reducing collection (V8 also shrinks the young generation and returns freed
 * pages), or undefined when the process was started without `--expose-gc` (tests in-process).
 */
function memoryReducingGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: (options: Record<string, string>) => void }).gc;
  if (gc === undefined) return undefined;
  return () => gc({ type: "major", execution: "sync", flavor: "last-resort" });
}

/**
 * Process CPU time in µs (all threads), or NaN: `Deno.cpuUsage` exists in this runtime but is not
 * in its type declarations.
 */
function processCpuUs(): number {
  const cpuUsage = (Deno as unknown as { cpuUsage?: () => { user: number; system: number } })
    .cpuUsage;
  if (cpuUsage === undefined) return NaN;
  const usage = cpuUsage();
  return usage.user + usage.system;
}

/** Runs the collection after a connection burst and logs what it took and what it returned. */
function collectAfterBurst(reduce: () => void, log: StructuredLogger, miners: number): void {
  const before = Deno.memoryUsage();
  const cpuBefore = processCpuUs();
  const startedAt = performance.now();
  reduce();
  const pauseMs = performance.now() - startedAt;
  const cpuUs = processCpuUs() - cpuBefore;
  const after = Deno.memoryUsage();
  log.info("memory reduced after a connection burst", {
    miners,
    pause_ms: Math.round(pauseMs * 10) / 10,
    // Process CPU over the pause (V8's helper threads included): the pause is longer than this
    // only when the process waited for a core.
    cpu_ms: Number.isNaN(cpuUs) ? null : Math.round(cpuUs / 100) / 10,
    rss_mb_before: Math.round(before.rss / 1e5) / 10,
    rss_mb_after: Math.round(after.rss / 1e5) / 10,
    heap_mb_before: Math.round(before.heapTotal / 1e5) / 10,
    heap_mb_after: Math.round(after.heapTotal / 1e5) / 10,
  });
}

/** Starts the pool; resolves once the first template is installed and the listeners are open. */
export async function startPoolRuntime(deps: PoolRuntimeDeps): Promise<PoolRuntime> {
  const { config, network, log } = deps;
  const clock = deps.clock ?? systemClock;
  const reduceMemory = memoryReducingGc();
  const metrics = new PoolMetrics({ region: config.region, instance: deps.instance });
  // First, so a certificate that cannot be used stops the start before anything else opens.
  const tls = config.tls === undefined || config.serverurl_tls.length === 0
    ? null
    : await TlsTerminator.open(
      {
        certFile: config.tls.cert_file,
        keyFile: config.tls.key_file,
        handshakeTimeoutMs: config.tls.handshake_timeout_ms,
        maxHandshakes: config.tls.max_handshakes,
        maxQueuedBytes: MAX_QUEUED_BYTES,
      },
      registerTlsMetrics(metrics.registry),
      log.getChild("tls"),
    );
  // The emitter (NATS client, JetStream) is loaded only when events are on: a fresh process
  // without it is about 10 MB smaller (tests/bench/module_cost.ts).
  let emitter: EventEmitter | null = null;
  if (deps.events === undefined && config.events.enabled) {
    const { emitterOptionsFromConfig, EventEmitter } = await import("@tbg/shared/emitter");
    emitter = new EventEmitter(
      emitterOptionsFromConfig(config, {
        source: deps.instance,
        metrics,
        log: log.getChild("events"),
      }),
    );
  }
  // Replays what an earlier process spooled; does not wait for NATS.
  await emitter?.start();
  const events: EventSink | null = deps.events ?? emitter;
  const maxClients = connectionCapForOpenFiles({
    maxclients: config.maxclients,
    nofileLimit: deps.nofileLimit ?? null,
    reserve: config.open_files_reserve,
    tls: tls !== null,
  });
  const fee = config.donation > 0 && config.btcaddress !== undefined
    ? { script: addressToScriptPubKey(config.btcaddress, network), percent: config.donation }
    : null;
  const options: EngineOptions = {
    network,
    extranonce1Size: config.nonce1length,
    extranonce1Prefix: extranonce1Prefix(config.region_index, deps.instanceIndex ?? 0),
    extranonce2Size: config.nonce2length,
    poolVersionMask: parseInt(config.version_mask, 16) >>> 0,
    startDifficulty: config.startdiff,
    vardiff: { ...config.vardiff, mindiff: config.mindiff, maxdiff: config.maxdiff },
    rateLimits: {
      ...config.rate_limits,
      max_requests_per_minute: config.rate_limits.max_requests_per_minute ??
        defaultRequestBudget(config.rate_limits.max_shares_per_minute),
    },
    difficultyGraceMs: DIFFICULTY_GRACE_MS,
    maxLineBytes: MAX_LINE_BYTES,
    maxClients,
    jobs: {
      tag: new TextEncoder().encode(config.btcsig),
      fee,
      jobsPerTip: 8,
      retiredJobs: 64,
    },
    authorizeTimeoutMs: AUTHORIZE_TIMEOUT_MS,
    idleTimeoutMs: config.dropidle * 1000,
    hashrateUpdateIntervalMs: 60_000,
    region: config.region,
  };
  // Every found block is kept on disk and re-submitted while no node can take it.
  const keeper = new BlockKeeper((hex) => deps.source.submitBlock(hex), {
    dir: foundBlocksDir(config.blocks_dir, config.logdir),
    retryWindowMs: config.block_retry_s * 1000,
    log: log.getChild("blocks"),
    onKeepFailure: () => metrics.blockKeepFailures.inc(),
  });
  const submitter: BlockSubmitter = {
    submitBlock: async (blockHex, hashHex, height) => {
      // Blocks kept from an outage go out with this one, not after their backoff: this one is
      // submitted to every node at once, including one the health check has not seen back yet.
      keeper.wake();
      const result = await keeper.submit(blockHex, hashHex, height);
      if (!result.tipMoved && result.accepted) {
        log.warn("block accepted but no node reports it as tip", { hash: result.blockHash });
      }
      return {
        accepted: result.accepted,
        results: result.results.map((r) => ({
          target: r.url,
          result: r.result ?? r.error ?? null,
        })),
      };
    },
  };
  // Loaded only when configured: the Redis client pulls in modules that read the environment.
  const redisMemory = config.redis === undefined
    ? null
    : new (await import("@tbg/shared/redis-memory")).RedisDifficultyMemory(
      config.redis.url,
      config.vardiff,
      log.getChild("redis"),
    );
  const engine = new Engine(options, {
    clock,
    submitter,
    events,
    observer: metricsObserver(metrics),
    difficultyMemory: deps.difficultyMemory ?? redisMemory ??
      new InMemoryDifficultyMemory(
        { reconnect_memory_ttl: config.vardiff.reconnect_memory_ttl },
        clock,
      ),
    log: log.getChild("engine"),
  });

  // Loaded only when templates are published (NATS client and JetStream, as for the emitter).
  let distribution: PrimaryTemplateDistribution | null = null;
  if (config.templates.publish) {
    const templates = await import("@tbg/shared/templates");
    const distributionOptions = templates.primaryDistributionOptions(config, {
      instance: deps.instance,
      network,
      submitBlock: (hex) => deps.source.submitBlock(hex),
      templatesHealthy: () => deps.source.healthy,
      registry: metrics.registry,
      log: log.getChild("relays"),
      clock,
    });
    distribution = distributionOptions === null
      ? null
      : new templates.PrimaryTemplateDistribution(distributionOptions);
  }
  // Started before the template source so the first template is queued for relays; never waits
  // for NATS.
  distribution?.start();

  let nextHeight = 0;
  let commitmentDerivedLogged = false;
  const onTemplate = (update: TemplateUpdate) => {
    let template;
    try {
      template = blockTemplateOf(update);
    } catch (e) {
      log.error("template refused", { error: String(e), reason: update.reason });
      return;
    }
    // Once per process: the operator learns the node omits it and the pool computes it (BIP141).
    if (template.witnessCommitmentDerived === true && !commitmentDerivedLogged) {
      commitmentDerivedLogged = true;
      log.warn("node sent no default_witness_commitment; the pool computes it", {
        height: template.height,
        txs: template.transactions.length,
      });
    }
    // Before the broadcast to this pool's miners, which takes longer the more there are: relays
    // then wait only for the encode (about 1 ms for 2,000 transactions), not for the broadcast.
    distribution?.publish(template, update);
    const workbase = engine.onTemplate(
      template,
      isPrimaryTemplateUpdate(update) ? "primary" : update.source === "zmq" ? "zmq" : "poll",
    );
    // A node answered: a found block waiting for one goes out now.
    keeper.wake();
    metrics.noteTemplate(update.receivedAtMs);
    metrics.noteNodeClock(template.curtime, update.receivedAtMs);
    metrics.bitcoinHeight.set(template.height - 1);
    nextHeight = template.height;
    log.info("new job", {
      job: workbase.id,
      height: template.height,
      clean: workbase.cleanJobs,
      reason: update.reason,
      trigger: update.source,
      txs: template.transactions.length,
      miners: engine.sessions.size,
    });
    deps.onTemplate?.(update);
  };
  // Before the source starts, so its first getblocktemplate is timed too.
  const nodeWatch = deps.nodePool === undefined ? null : watchBitcoinNode({
    pool: deps.nodePool,
    registry: metrics.registry,
    pollIntervalMs: config.node_stats_poll_ms,
    log: log.getChild("node"),
  });
  try {
    await deps.source.start(onTemplate);
  } catch (error) {
    await nodeWatch?.stop();
    await distribution?.stop();
    tls?.close();
    throw error;
  }

  // Blocks an earlier process found but got no verdict for (killed mid-submit) go out again.
  await keeper.resubmitPending(nextHeight).catch((error: unknown) =>
    log.error("cannot look for kept blocks", { error: String(error) })
  );

  // Start-up leaves about 10 MB of garbage (config validation, module evaluation, the first
  // template) that V8's memory reducer returns only over the next minute; one full collection
  // before the first miner returns it now. `gc` exists when the launcher passed --expose-gc.
  reduceMemory?.();
  const server = new StratumServer(engine, {
    reusePort: config.reuse_port,
    maxLineBytes: MAX_LINE_BYTES,
    maxQueuedBytes: MAX_QUEUED_BYTES,
    readBufferBytes: READ_BUFFER_BYTES,
  }, log.getChild("server"));
  server.listen(stratumListeners(config).map((e) => ({ hostname: e.host, port: e.port })));
  if (tls !== null) {
    server.listenTls(
      stratumTlsListeners(config).map((e) => ({ hostname: e.host, port: e.port })),
      tls,
    );
  }

  const maxTemplateAgeMs = Math.max(3 * config.update_interval * 1000, 90_000);
  const health = stratumHealth({
    listening: () => server.accepting,
    templateAgeMs: () => metrics.templateAgeMs(),
    maxTemplateAgeMs,
    bitcoindConnected: deps.bitcoindConnected,
    ...(deps.bitcoindDetail === undefined ? {} : { bitcoindDetail: deps.bitcoindDetail }),
    templateSourceHealthy: () => deps.source.healthy,
  });
  // One server per listener: /health may have its own address for GeoDNS checks.
  const httpServers: MetricsServer[] = httpListeners(config).map((listener) =>
    startMetricsServer({
      hostname: listener.host,
      port: listener.port,
      path: config.metrics.path,
      registry: metrics.registry,
      health,
      maxConnections: config.metrics.max_connections,
      headerTimeoutMs: config.metrics.header_timeout_ms,
      idleTimeoutMs: config.metrics.idle_timeout_ms,
      onError: (e) => log.warn("metrics listener error", { error: String(e) }),
      onAcceptFailure: ({ error, backoffMs }) =>
        log.warn("metrics listener cannot accept; pausing", { error: String(error), backoffMs }),
    })
  );
  const metricsServer = httpServers[0] ?? null;
  // After a burst of new connections, the same collection returns what their handshakes left
  // (young generation grown to its maximum, garbage): at most once a minute (burst_collection.ts).
  const burst = reduceMemory === undefined || !config.gc_after_connection_burst
    ? null
    : new BurstCollection(POOL_BURST_COLLECTION);
  const ticker = setInterval(() => {
    engine.tick();
    metrics.bitcoinConnected.setBoolean(deps.bitcoindConnected());
    if (burst?.onTick(clock.nowMs(), engine.openedTotal, engine.awaitingAuthorize)) {
      collectAfterBurst(reduceMemory!, log, engine.sessions.size);
    }
  }, 1000);
  log.info("pool ready", {
    listen: server.addresses,
    ...(tls === null
      ? {}
      : { listen_tls: server.tlsAddresses, tls_fingerprint_sha256: tls.fingerprint }),
    network,
    metrics: metricsServer === null ? null : `${metricsServer.hostname}:${metricsServer.port}`,
    max_clients: maxClients,
    nofile_limit: deps.nofileLimit ?? null,
  });

  return {
    engine,
    server,
    metrics,
    metricsServer,
    distribution,
    tls,
    reloadTls: () => tls === null ? Promise.resolve(null) : tls.reload(),
    async drainAndStop(timeoutMs: number): Promise<void> {
      const windowMs = config.drain_reconnect_window_ms;
      log.info("draining", { miners: engine.sessions.size, reconnect_window_ms: windowMs });
      // The listener closes before any miner is told: a reconnect must find only the other
      // processes on the port (reuse_port), never this one again.
      server.stopAccepting();
      engine.stopAdmitting();
      const spreading = new AbortController();
      const told = spreadReconnects(engine.sessions, {
        windowMs,
        isConnected: (session) => engine.sessions.has(session as Session),
        signal: spreading.signal,
      });
      // Miners told last get the full timeout to leave, as with a drain that tells all at once.
      await server.closeAll(windowMs + timeoutMs);
      spreading.abort();
      log.info("miners drained", { told: await told });
      clearInterval(ticker);
      await nodeWatch?.stop();
      // A block still being retried stays .pending on disk for the next start.
      keeper.stop();
      // Relays' block submissions in flight are answered before the source (and its nodes) stop.
      await distribution?.stop();
      await deps.source.stop();
      // A block submitted just before the drain finishes renaming its file (to accepted, or to
      // pending for the next start) before this process is gone.
      await keeper.idle();
      // Publish what NATS takes within the budget; the rest is fsync'd to the spool for the next start.
      await emitter?.drain(5_000);
      await Promise.all(httpServers.map((h) => h.shutdown()));
      await redisMemory?.close();
      log.info("stopped");
    },
  };
}
