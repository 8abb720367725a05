/**
 * The event collector: a durable JetStream pull consumer whose messages are written, batch by
 * batch, to PostgreSQL and Redis, and acknowledged only once both hold them.
 *
 * Per batch: parse and validate every message (invalid ones are counted, logged at most every few
 * seconds and acknowledged, so a poison message never blocks the stream); write the valid events
 * in one PostgreSQL transaction, each with its hub stream sequence; settle every message's
 * sequence in Redis (one atomic script call per chunk), applying the side effects of the events
 * PostgreSQL inserted now or already held from that same sequence; then acknowledge every message
 * of the batch. Two batches are processed at a time (see {@link BATCHES_IN_FLIGHT}). While a
 * backend is down the batch is retried with backoff and kept alive on the server (`+WPI`), never
 * acknowledged, so nothing is lost. PostgreSQL is idempotent per `event_id` and Redis per stream
 * sequence (`settled_record.ts`), so a redelivery never counts twice, and an event published
 * again under a new sequence is stored and applied once.
 *
 * Every few seconds the settled record is checked against the stream and the consumer: sequences
 * the stream no longer holds (or that are not the consumer's) are settled without effects, and
 * messages the consumer acknowledged that this Redis has not settled (it was restored from an
 * older snapshot, or flushed) are read back from the stream and applied, so the floor moves and
 * the record stays a few keys.
 *
 * Several collectors may share one durable consumer name: JetStream hands each pull request
 * different messages.
 *
 * @module
 */
import { connect, type NatsConnection } from "nats";
import {
  type ConsumerMessages,
  jetstream,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
} from "nats/jetstream";
import type { CollectorConfig } from "@tbg/shared/config";
import { type MiningEvent, parseEvent } from "@tbg/shared/events";
import { NatsMonitorExporter } from "@tbg/shared/nats";
import type { StructuredLogger } from "@tbg/shared/log";
import { type HealthReport, type MetricsServer, startMetricsServer } from "@tbg/shared/metrics";
import { Backoff, LogThrottle } from "./backoff.ts";
import { Backend, CollectorMetrics, ErrorStage } from "./collector_metrics.ts";
import { consumerFilter, ensureConsumer, ensureStream } from "./jetstream_setup.ts";
import { type Delay, MessageBatcher, realDelay } from "./message_batcher.ts";
import { PostgresStore, type PostgresWriteResult, type Sql } from "./postgres_store.ts";
import type { RedisEntry } from "./redis_batch_script.ts";
import { batchEntries } from "./redis_entries.ts";
import { MissingFloorError, type RedisApplyResult, RedisStore } from "./redis_store.ts";
import { type Delivery, SettledCheck } from "./settled_check.ts";
import type { StreamIdentity } from "./settled_record.ts";

/** Days of partitions created ahead. */
export const PARTITION_DAYS_AHEAD = 3;
/** Interval between partition upkeep runs. */
export const PARTITION_INTERVAL_MS = 6 * 60 * 60 * 1000;
/** Interval between consumer-lag samples and backend probes. */
export const SAMPLE_INTERVAL_MS = 5_000;
/**
 * Batches processed at once. Two let one batch's PostgreSQL insert overlap the other's parsing
 * and Redis work; their summary upserts lock rows in the same (sorted) order, so they cannot
 * deadlock, and every update they make commutes.
 */
export const BATCHES_IN_FLIGHT = 2;
/** Shortest time between two log lines about the same ongoing problem. */
export const LOG_INTERVAL_MS = 5_000;
/** How long a shutdown waits for a batch stuck on a backend before giving it back (nak). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 15_000;
/** Redelivery delay for a batch handed back after an unexpected failure. */
const UNEXPECTED_FAILURE_NAK_MS = 5_000;
/** Time past the drain timeout after which shutdown stops waiting for a stuck batch. */
const HARD_STOP_GRACE_MS = 5_000;
/** Longest wait at shutdown for NATS to take the last acks. */
const FLUSH_TIMEOUT_MS = 3_000;
/** First pause before retrying a batch while a backend is down. */
const RETRY_INITIAL_MS = 100;
/**
 * Longest pause between two attempts while a backend is down, so a batch resumes at most this
 * long after the backend is back (the PostgreSQL client adds no delay of its own:
 * `RECONNECT_DELAY_S` in `postgres_store.ts`).
 */
export const RETRY_MAX_MS = 5_000;
/** A batch kept longer than this while retrying tells the server it is still in progress. */
const WORKING_INTERVAL_MS = 10_000;

/** Applies pending schema migrations (`tools/migrate.ts`'s `migrate`). */
export type MigrateFn = (sql: Sql, log: StructuredLogger) => Promise<unknown>;

/** What {@link startCollector} needs. */
export interface CollectorOptions {
  /** Validated configuration. */
  readonly config: CollectorConfig;
  /** Logger for the collector and its parts. */
  readonly log: StructuredLogger;
  /** Runs migrations when `config.migrate_on_start`; required then. */
  readonly migrate?: MigrateFn;
  /** Metrics to fill; new ones unless given. */
  readonly metrics?: CollectorMetrics;
  /** How long {@link Collector.stop} waits for a stuck batch. */
  readonly drainTimeoutMs?: number;
}

/** A running collector. */
export interface Collector {
  /** Its metrics. */
  readonly metrics: CollectorMetrics;
  /** The metrics/health listener, or `null` when disabled. */
  readonly metricsServer: MetricsServer | null;
  /** Health as served on /health: ok while NATS is connected and both backends are up. */
  health(): HealthReport;
  /**
   * Stops fetching, finishes the batch in flight (acking it), gives back the messages fetched
   * but not started (nak), and closes every connection. Idempotent.
   */
  stop(): Promise<void>;
  /** Settles when the collector has stopped. */
  readonly stopped: Promise<void>;
}

/** Thrown inside a retry loop when a shutdown gave up waiting for a backend. */
class AbandonedError extends Error {
  override name = "AbandonedError";
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const utf8 = new TextDecoder();

/**
 * Connects to NATS (retrying forever), applies migrations when configured, makes sure the stream
 * and the durable consumer exist, and starts consuming.
 *
 * @param options Config, logger, migrate function, metrics.
 * @returns The running collector.
 * @throws {TypeError} If `migrate_on_start` is set and no migrate function was given.
 * @throws {RangeError} If the durable consumer exists with settings that cannot be changed.
 */
export async function startCollector(options: CollectorOptions): Promise<Collector> {
  if (options.config.migrate_on_start && options.migrate === undefined) {
    throw new TypeError("Cannot start collector: migrate_on_start is set but no migrate function");
  }
  const runtime = new CollectorRuntime(options);
  try {
    await runtime.start();
  } catch (error: unknown) {
    await runtime.stop();
    throw error;
  }
  return runtime;
}

class CollectorRuntime implements Collector {
  readonly metrics: CollectorMetrics;
  metricsServer: MetricsServer | null = null;
  readonly #config: CollectorConfig;
  readonly #log: StructuredLogger;
  readonly #migrate: MigrateFn | undefined;
  readonly #drainTimeoutMs: number;
  readonly #pg: PostgresStore;
  readonly #redis: RedisStore;
  readonly #filter: string;
  readonly #throttles = {
    invalid: new LogThrottle(LOG_INTERVAL_MS),
    postgres: new LogThrottle(LOG_INTERVAL_MS),
    redis: new LogThrottle(LOG_INTERVAL_MS),
    redisConnection: new LogThrottle(LOG_INTERVAL_MS),
    rejected: new LogThrottle(LOG_INTERVAL_MS),
    nats: new LogThrottle(LOG_INTERVAL_MS),
    recreate: new LogThrottle(LOG_INTERVAL_MS),
    maintenance: new LogThrottle(LOG_INTERVAL_MS),
  };
  /** Polls the hub nats-server's monitoring port into this registry; null unless configured. */
  readonly #natsMonitor: NatsMonitorExporter | null;
  #nc: NatsConnection | undefined;
  #jsm: JetStreamManager | undefined;
  /** The stream incarnation and filter the settled record belongs to; set at JetStream setup. */
  #identity: StreamIdentity | undefined;
  #settledCheck: SettledCheck | undefined;
  #messages: ConsumerMessages | undefined;
  #batcher: MessageBatcher<JsMsg> | undefined;
  /** Batches whose PostgreSQL write has not returned yet. */
  #pgWrites = 0;
  /** When the last summary fold started (`performance.now()`). */
  #lastFoldMs = 0;
  #natsConnected = false;
  #stopping = false;
  #abandoned = false;
  #waits = new Set<Delay>();
  #timers: ReturnType<typeof setInterval>[] = [];
  #upkeepRunning = false;
  #loop: Promise<void> = Promise.resolve();
  #stopped: Promise<void> | undefined;
  #resolveStopped: () => void = () => {};
  readonly stopped: Promise<void>;

  constructor(options: CollectorOptions) {
    this.#config = options.config;
    this.#log = options.log;
    this.#migrate = options.migrate;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.metrics = options.metrics ?? new CollectorMetrics();
    this.#filter = consumerFilter(this.#config.region_filter);
    const monitor = this.#config.nats_monitor;
    this.#natsMonitor = monitor === undefined ? null : new NatsMonitorExporter({
      // `host:port` is accepted in the config, as for btcd urls.
      url: monitor.url.startsWith("http://") ? monitor.url : `http://${monitor.url}`,
      pollMs: monitor.poll_ms,
      timeoutMs: monitor.timeout_ms,
      registry: this.metrics.registry,
      onFailure: (error) =>
        this.#log.warn("nats monitoring poll failed", { error: errorText(error) }),
      onRecovery: () => this.#log.info("nats monitoring poll answers again"),
    });
    this.stopped = new Promise((resolve) => this.#resolveStopped = resolve);
    this.#pg = new PostgresStore(this.#config.postgres.url, {
      onNotice: (notice) => this.#log.debug("postgres notice", { message: notice.message }),
    });
    this.#redis = new RedisStore(this.#config.redis.url, {
      onConnectionError: (error) => {
        this.metrics.backendUp.redis.set(0);
        const suppressed = this.#throttles.redisConnection.take();
        if (suppressed !== undefined) {
          this.#log.warn("redis connection error", { error: errorText(error), suppressed });
        }
      },
    });
  }

  async start(): Promise<void> {
    const config = this.#config;
    if (config.metrics.enabled) {
      this.metricsServer = startMetricsServer({
        hostname: config.metrics.host,
        port: config.metrics.port,
        path: config.metrics.path,
        registry: this.metrics.registry,
        health: () => this.health(),
        maxConnections: config.metrics.max_connections,
        headerTimeoutMs: config.metrics.header_timeout_ms,
        idleTimeoutMs: config.metrics.idle_timeout_ms,
        onError: (error) => this.#log.warn("metrics listener error", { error: errorText(error) }),
        onAcceptFailure: ({ error, backoffMs }) =>
          this.#log.warn("metrics listener cannot accept; pausing", {
            error: errorText(error),
            backoffMs,
          }),
      });
    }
    this.#timers.push(setInterval(() => void this.#probeBackends(), SAMPLE_INTERVAL_MS));
    void this.#probeBackends();
    this.#natsMonitor?.start();

    this.#nc = await connect({
      servers: config.nats_url.split(",").map((url) => url.trim()),
      name: "tbg-collector",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      waitOnFirstConnect: true,
    });
    this.#setNatsConnected(true);
    void this.#watchNats(this.#nc);

    if (config.migrate_on_start && this.#migrate !== undefined) {
      const migrate = this.#migrate;
      await this.#retryUntilDone(
        "migrations",
        ErrorStage.maintenance,
        () => migrate(this.#pg.sql, this.#log),
      );
    }
    void this.#maintainPartitions();
    this.#timers.push(
      setInterval(() => void this.#maintainPartitions(), PARTITION_INTERVAL_MS),
    );

    // A consumer that exists with settings it cannot be given (RangeError) is a fatal config
    // problem; anything else (JetStream not ready yet) is retried.
    await this.#retryUntilDone("jetstream setup", ErrorStage.nats, () => this.#setUpJetStream());
    this.#timers.push(setInterval(() => void this.#sampleLag(), SAMPLE_INTERVAL_MS));
    this.#loop = this.#consumeLoop();
    void this.#probeBackends();
    void this.#sampleLag();
    this.#log.info("collector ready", {
      stream: config.stream,
      durable: config.durable,
      filter: this.#filter,
      batch: config.batch,
      metrics: this.metricsServer === null
        ? null
        : `${this.metricsServer.hostname}:${this.metricsServer.port}`,
    });
  }

  health(): HealthReport {
    const nats = this.#natsConnected;
    const postgres = this.metrics.backendUp.postgres.value === 1;
    const redis = this.metrics.backendUp.redis.value === 1;
    return {
      ok: nats && postgres && redis,
      checks: {
        nats_connected: { ok: nats, detail: nats ? "connected" : "disconnected" },
        postgres_up: { ok: postgres, detail: postgres ? "answering" : "unreachable" },
        redis_up: { ok: redis, detail: redis ? "answering" : "unreachable" },
      },
    };
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#shutdown();
    return this.#stopped;
  }

  // --- JetStream ---------------------------------------------------------------------------

  async #setUpJetStream(): Promise<void> {
    const nc = this.#nc!;
    this.#jsm ??= await jetstreamManager(nc);
    const outcome = await ensureStream(this.#jsm, this.#config.stream);
    if (outcome === "update_refused") {
      this.#log.warn("stream settings differ and the server refused to update them", {
        stream: this.#config.stream,
      });
    } else if (outcome !== "unchanged") {
      this.#log.info("stream provisioned", { stream: this.#config.stream, outcome });
    }
    const info = await this.#jsm.streams.info(this.#config.stream);
    this.#setIdentity(info.created);
    this.#settledCheck ??= new SettledCheck({
      jsm: this.#jsm,
      redis: this.#redis,
      stream: this.#config.stream,
      filter: this.#filter,
      metrics: this.metrics,
      log: this.#log,
      identity: (created) => this.#setIdentity(created),
      store: (items) => this.#store(items, () => {}),
      stopping: () => this.#stopping,
    });
    await ensureConsumer(this.#jsm, this.#config.stream, this.#config.durable, this.#filter);
  }

  /** Keys the settled record by the stream's creation time (a re-created stream starts anew). */
  #setIdentity(created: string): StreamIdentity {
    if (this.#identity?.created === created) return this.#identity;
    if (this.#identity !== undefined) {
      this.#log.warn("stream was re-created; settling its sequences in a new record", {
        stream: this.#config.stream,
        created,
        previous: this.#identity.created,
      });
    }
    this.#identity = { stream: this.#config.stream, created, filter: this.#filter };
    return this.#identity;
  }

  async #watchNats(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") {
        this.#setNatsConnected(false);
        this.#log.warn("nats disconnected", { server: status.server });
      } else if (status.type === "reconnect") {
        this.#setNatsConnected(true);
        this.#log.info("nats reconnected", { server: status.server });
      }
    }
  }

  #setNatsConnected(connected: boolean): void {
    this.#natsConnected = connected;
    this.metrics.backendUp.nats.setBoolean(connected);
  }

  async #sampleLag(): Promise<void> {
    if (this.#jsm === undefined || !this.#natsConnected) return;
    let ackFloor: number;
    try {
      const info = await this.#jsm.consumers.info(this.#config.stream, this.#config.durable);
      this.metrics.consumerLag.set(info.num_pending);
      ackFloor = info.ack_floor.stream_seq;
    } catch (error: unknown) {
      this.metrics.errors.nats.inc();
      const suppressed = this.#throttles.nats.take();
      if (suppressed !== undefined) {
        this.#log.warn("consumer info failed", { error: errorText(error), suppressed });
      }
      return;
    }
    try {
      await this.#settledCheck?.run(ackFloor);
    } catch (error: unknown) {
      if (error instanceof AbandonedError) return;
      this.metrics.errors.maintenance.inc();
      const suppressed = this.#throttles.maintenance.take();
      if (suppressed !== undefined) {
        this.#log.warn("settled record check failed", { error: errorText(error), suppressed });
      }
    }
  }

  /** Consumes until stopped; restarts consuming if the iterator ends while not stopping. */
  async #consumeLoop(): Promise<void> {
    const { batch } = this.#config;
    const backoff = new Backoff({ initialMs: 500, maxMs: RETRY_MAX_MS });
    while (!this.#stopping) {
      let batcher: MessageBatcher<JsMsg>;
      try {
        const js = jetstream(this.#nc!);
        const consumer = await js.consumers.get(this.#config.stream, this.#config.durable);
        const messages = await consumer.consume({ max_messages: Math.max(batch.max_events, 64) });
        this.#messages = messages;
        void this.#watchConsumer(messages);
        batcher = new MessageBatcher(messages, {
          maxItems: batch.max_events,
          maxWaitMs: batch.max_wait_ms,
          maxBuffered: 2 * batch.max_events,
        });
        this.#batcher = batcher;
        if (this.#stopping) messages.stop();
      } catch (error: unknown) {
        this.metrics.errors.nats.inc();
        this.#log.warn("cannot start consuming, retrying", { error: errorText(error) });
        await this.#sleep(backoff.next()).catch(() => {});
        continue;
      }
      backoff.reset();
      const inFlight = new Set<Promise<void>>();
      try {
        for (;;) {
          const msgs = await batcher.next();
          if (msgs.length === 0) break;
          while (inFlight.size >= BATCHES_IN_FLIGHT) await Promise.race(inFlight);
          const processing = this.#processBatch(msgs).finally(() => inFlight.delete(processing));
          inFlight.add(processing);
          if (this.#stopping) break;
        }
      } catch (error: unknown) {
        this.metrics.errors.nats.inc();
        this.#log.warn("consumer ended with an error", { error: errorText(error) });
      }
      await Promise.all(inFlight);
      if (!this.#stopping) {
        // Whatever was fetched but not started goes back to the server for redelivery.
        this.#settle(batcher.takeBuffered(), (msg) => msg.nak());
        this.#log.warn("consumer ended, consuming again");
        await this.#sleep(backoff.next()).catch(() => {});
      }
    }
  }

  async #watchConsumer(messages: ConsumerMessages): Promise<void> {
    for await (const note of messages.status()) {
      if (
        note.type === "consumer_not_found" || note.type === "consumer_deleted" ||
        note.type === "stream_not_found"
      ) {
        // At most one attempt per interval: the client reports every failed pull.
        if (this.#throttles.recreate.take() === undefined) continue;
        this.#log.warn("consumer missing on the server, recreating", { notification: note.type });
        try {
          await this.#setUpJetStream();
        } catch (error: unknown) {
          this.metrics.errors.nats.inc();
          this.#log.warn("cannot recreate consumer", { error: errorText(error) });
        }
      }
    }
  }

  // --- Batches -----------------------------------------------------------------------------

  async #processBatch(msgs: readonly JsMsg[]): Promise<void> {
    const startedMs = performance.now();
    this.metrics.batchSize.observe(msgs.length);
    try {
      await this.#store(msgs, () => {
        for (const msg of msgs) msg.working();
      });
    } catch (error: unknown) {
      // Handing the batch back makes the server redeliver it (here or to another collector);
      // both stores skip whatever part of it was already applied. At shutdown at once; after an
      // unexpected failure with a delay, so a bug does not spin on the same messages.
      const abandoned = error instanceof AbandonedError;
      this.#settle(msgs, (msg) => msg.nak(abandoned ? undefined : UNEXPECTED_FAILURE_NAK_MS));
      if (!abandoned) {
        this.#log.error("batch failed unexpectedly; handed back", { error: errorText(error) });
      }
      return;
    }
    this.#settle(msgs, (msg) => msg.ack());
    this.metrics.batchDurationMs.observe(performance.now() - startedMs);
  }

  /**
   * Stores messages in PostgreSQL, then settles every one of their sequences in Redis: apply
   * entries for events PostgreSQL inserted now or holds from this same sequence (a redelivery),
   * legacy entries for events it holds from before sequences were stored, mark entries for the
   * rest (invalid, refused, or a copy of an event stored from another message, in this batch or
   * before). See `batchEntries`.
   *
   * @param items The messages, in delivery order.
   * @param keepAlive Called while a backend is retried, so the server keeps the messages.
   * @throws {AbandonedError} When a shutdown gave up waiting for a backend.
   */
  async #store(items: readonly Delivery[], keepAlive: () => void): Promise<void> {
    const metrics = this.metrics;
    const identity = this.#identity;
    if (identity === undefined) throw new Error("Cannot store a batch: JetStream is not set up");
    const events: MiningEvent[] = [];
    const seqs = new Map<string, number>();
    // Per item its event, or undefined when it is invalid.
    const slots: (MiningEvent | undefined)[] = [];
    let repeats = 0;
    for (const item of items) {
      let event: MiningEvent;
      try {
        event = parseEvent(item.data);
      } catch (error: unknown) {
        this.#invalid(item, error);
        slots.push(undefined);
        continue;
      }
      slots.push(event);
      if (seqs.has(event.event_id)) {
        repeats++;
        continue;
      }
      seqs.set(event.event_id, item.seq);
      events.push(event);
    }
    this.#pgWrites++;
    let written: PostgresWriteResult;
    try {
      written = await this.#untilDone(
        Backend.postgres,
        items.length,
        keepAlive,
        () => this.#pg.write(events, seqs),
      );
    } finally {
      this.#pgWrites--;
    }
    await this.#foldIfDue(items.length, keepAlive);
    let stored = events;
    if (written.rejected.length > 0) {
      const refused = new Set(written.rejected.map((r) => r.event));
      stored = events.filter((event) => !refused.has(event));
      metrics.errors.postgres_event.inc(refused.size);
      const suppressed = this.#throttles.rejected.take();
      if (suppressed !== undefined) {
        const first = written.rejected[0]!;
        this.#log.error("postgres refused events; acknowledged and dropped", {
          count: refused.size,
          event_id: first.event.event_id,
          event_type: first.event.event,
          error: errorText(first.error),
          suppressed,
        });
      }
    }
    metrics.dedupHits.postgres.inc(stored.length - written.insertedIds.size + repeats);

    const itemSeqs = items.map((item) => item.seq);
    const { entries, copies } = batchEntries(itemSeqs, slots, seqs, written);
    const applied = await this.#untilDone(
      Backend.redis,
      items.length,
      keepAlive,
      () => this.#applyToRedis(identity, entries),
    );
    metrics.dedupHits.redis.inc(applied.duplicates + copies);
    metrics.settledFloor.set(applied.floor);
    if (applied.errors > 0) {
      metrics.errors.redis_event.inc(applied.errors);
      const suppressed = this.#throttles.redis.take();
      if (suppressed !== undefined) {
        this.#log.error("redis refused real-time updates; not retried", {
          count: applied.errors,
          error: applied.firstError,
          suppressed,
        });
      }
    }
    for (const event of stored) metrics.events[event.event].inc();
  }

  /**
   * Folds the summary deltas into `miners` and `worker_hourly` (migration 006) when this batch is
   * the last of a queue (no other write in flight, nothing buffered, or stopping), waiting for a
   * fold running elsewhere, so that once a backlog is acknowledged the tables are complete; and
   * otherwise at most every `batch.summary_fold_ms`, skipped when another fold is running. Called
   * before the batch is acknowledged, after its own write committed.
   */
  async #foldIfDue(batch: number, keepAlive: () => void): Promise<void> {
    const last = this.#pgWrites === 0 &&
      ((this.#batcher?.buffered ?? 0) === 0 || this.#stopping);
    const nowMs = performance.now();
    if (!last && nowMs - this.#lastFoldMs < this.#config.batch.summary_fold_ms) return;
    this.#lastFoldMs = nowMs;
    await this.#untilDone(Backend.postgres, batch, keepAlive, () => this.#pg.foldSummaries(last));
  }

  /** Applies entries; a Redis without a settled record gets one first (see `#startRecord`). */
  async #applyToRedis(
    identity: StreamIdentity,
    entries: readonly RedisEntry[],
  ): Promise<RedisApplyResult> {
    try {
      return await this.#redis.apply(identity, entries);
    } catch (error: unknown) {
      if (!(error instanceof MissingFloorError)) throw error;
      await this.#startRecord(identity);
      return await this.#redis.apply(identity, entries);
    }
  }

  /**
   * Starts the settled record of a Redis that has none (new, flushed, or restored from a
   * snapshot taken before it existed) at the consumer's ack floor: what the consumer
   * acknowledged before is taken as settled there, and everything after it is applied once.
   * A Redis restored from a snapshot that has the record keeps that record's floor instead.
   */
  async #startRecord(identity: StreamIdentity): Promise<void> {
    if (this.#jsm === undefined) throw new Error("Cannot start the settled record: no JetStream");
    const info = await this.#jsm.consumers.info(this.#config.stream, this.#config.durable);
    const floor = await this.#redis.initFloor(identity, info.ack_floor.stream_seq);
    this.#log.info("settled record started", { floor, stream: identity.stream });
  }

  /** Acks or naks every message; on a closed connection the server redelivers them instead. */
  #settle(msgs: readonly JsMsg[], settle: (msg: JsMsg) => void): void {
    try {
      for (const msg of msgs) settle(msg);
    } catch (error: unknown) {
      this.metrics.errors.nats.inc();
      this.#log.warn("cannot acknowledge batch; it will be redelivered", {
        error: errorText(error),
      });
    }
  }

  #invalid(msg: Delivery, error: unknown): void {
    this.metrics.invalidEvents.inc();
    this.metrics.errors.parse.inc();
    const suppressed = this.#throttles.invalid.take();
    if (suppressed === undefined) return;
    this.#log.warn("invalid event acknowledged and dropped", {
      subject: msg.subject,
      stream_seq: msg.seq,
      error: error instanceof Error ? error.message : String(error),
      body_prefix: utf8.decode(msg.data.subarray(0, 200)),
      suppressed,
    });
  }

  /** Runs `attempt` until it succeeds, keeping the batch alive on the server meanwhile. */
  async #untilDone<T>(
    backend: typeof Backend.postgres | typeof Backend.redis,
    batch: number,
    keepAlive: () => void,
    attempt: () => Promise<T>,
  ): Promise<T> {
    const backoff = new Backoff({ initialMs: RETRY_INITIAL_MS, maxMs: RETRY_MAX_MS });
    let workingSentMs = performance.now();
    for (;;) {
      try {
        const result = await attempt();
        this.metrics.backendUp[backend].set(1);
        if (backoff.attempts > 0) {
          this.#log.info(`${backend} available again`, { attempts: backoff.attempts });
        }
        return result;
      } catch (error: unknown) {
        this.metrics.backendUp[backend].set(0);
        this.metrics.errors[backend].inc();
        const suppressed = this.#throttles[backend].take();
        if (suppressed !== undefined) {
          this.#log.warn(`${backend} unavailable, retrying batch`, {
            error: errorText(error),
            attempts: backoff.attempts + 1,
            batch,
            suppressed,
          });
        }
        if (this.#abandoned) throw new AbandonedError("shutdown gave up on the batch");
        if (performance.now() - workingSentMs >= WORKING_INTERVAL_MS) {
          keepAlive();
          workingSentMs = performance.now();
        }
        await this.#sleep(backoff.next());
      }
    }
  }

  /** Retries a start-up step until it succeeds or the collector stops. */
  async #retryUntilDone(
    what: string,
    stage: ErrorStage,
    attempt: () => Promise<unknown>,
  ): Promise<void> {
    const backoff = new Backoff({ initialMs: 250, maxMs: RETRY_MAX_MS });
    const throttle = new LogThrottle(LOG_INTERVAL_MS);
    for (;;) {
      if (this.#stopping) throw new AbandonedError(`stopped during ${what}`);
      try {
        await attempt();
        return;
      } catch (error: unknown) {
        if (error instanceof RangeError) throw error;
        this.metrics.errors[stage].inc();
        const suppressed = throttle.take();
        if (suppressed !== undefined) {
          this.#log.warn(`${what} failed, retrying`, { error: errorText(error), suppressed });
        }
        await this.#sleep(backoff.next());
      }
    }
  }

  /** Waits, or throws {@link AbandonedError} at once when a shutdown gives up. */
  async #sleep(ms: number): Promise<void> {
    const wait = realDelay(ms);
    this.#waits.add(wait);
    try {
      await wait.done;
    } finally {
      this.#waits.delete(wait);
    }
    if (this.#abandoned) throw new AbandonedError("shutdown gave up waiting");
  }

  // --- Backends and upkeep -------------------------------------------------------------------

  async #probeBackends(): Promise<void> {
    await Promise.all([
      this.#pg.ping().then(
        () => this.metrics.backendUp.postgres.set(1),
        () => this.metrics.backendUp.postgres.set(0),
      ),
      this.#redis.ping().then(
        () => this.metrics.backendUp.redis.set(1),
        () => this.metrics.backendUp.redis.set(0),
      ),
    ]);
  }

  /**
   * Partition upkeep: creates the coming days' partitions, then drops the days older than
   * `retention_days`; on failure (including the retention job's lock timeout) retries in the
   * background until both worked.
   */
  async #maintainPartitions(): Promise<void> {
    // A run still retrying (e.g. the lock held by a long query) when the timer fires again is
    // left to finish: two would only contend for the same lock.
    if (this.#upkeepRunning) return;
    this.#upkeepRunning = true;
    try {
      await this.#maintainPartitionsOnce();
    } finally {
      this.#upkeepRunning = false;
    }
  }

  async #maintainPartitionsOnce(): Promise<void> {
    const backoff = new Backoff({ initialMs: 1_000, maxMs: 60_000 });
    let ensured = false;
    while (!this.#stopping) {
      try {
        if (!ensured) {
          if (!await this.#pg.ensurePartitions(PARTITION_DAYS_AHEAD)) {
            this.#log.info("tbg_ensure_partitions() not defined; partition upkeep skipped");
          }
          ensured = true;
        }
        const days = this.#config.retention_days;
        const dropped = await this.#pg.dropPartitionsOlderThan(days);
        if (dropped === null) {
          this.#log.info("tbg_drop_partitions_older_than() not defined; retention skipped");
        } else if (dropped > 0) {
          this.#log.info("retention dropped old event partitions", { dropped, days });
        }
        return;
      } catch (error: unknown) {
        this.metrics.errors.maintenance.inc();
        const suppressed = this.#throttles.maintenance.take();
        if (suppressed !== undefined) {
          this.#log.warn("partition upkeep failed, retrying", { error: errorText(error) });
        }
        try {
          await this.#sleep(backoff.next());
        } catch {
          return;
        }
      }
    }
  }

  // --- Shutdown ----------------------------------------------------------------------------

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    this.#log.info("collector stopping");
    for (const timer of this.#timers) clearInterval(timer);
    await this.#natsMonitor?.stop();
    const giveUp = setTimeout(() => {
      this.#abandoned = true;
      for (const wait of this.#waits) wait.cancel();
    }, this.#drainTimeoutMs);
    try {
      this.#messages?.stop();
      // A query stuck on a frozen backend never returns; past the drain time plus a grace
      // period the connections are closed under it and its messages are redelivered.
      const hardStop = realDelay(this.#drainTimeoutMs + HARD_STOP_GRACE_MS);
      await Promise.race([this.#loop, hardStop.done]);
      hardStop.cancel();
      const leftover = this.#batcher?.takeBuffered() ?? [];
      this.#settle(leftover, (msg) => msg.nak());
      if (leftover.length > 0) {
        this.#log.info("handed back unstarted messages", { count: leftover.length });
      }
    } finally {
      clearTimeout(giveUp);
      this.#abandoned = true;
      for (const wait of this.#waits) wait.cancel();
    }
    if (this.#nc !== undefined && !this.#nc.isClosed()) {
      // Sends the acks and naks still buffered; when NATS is down, gives up after a while and
      // the unacknowledged messages are redelivered after the ack wait.
      const flushWait = realDelay(FLUSH_TIMEOUT_MS);
      await Promise.race([this.#nc.flush().catch(() => {}), flushWait.done]);
      flushWait.cancel();
      await this.#nc.close().catch(() => {});
    }
    await Promise.allSettled([this.#pg.close(), this.#redis.close()]);
    await this.metricsServer?.shutdown();
    this.#log.info("collector stopped");
    this.#resolveStopped();
  }
}
