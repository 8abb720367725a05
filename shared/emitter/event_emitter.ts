/**
 * The event emitter the Stratum engine calls on the share path, and the background publisher
 * that moves its events to JetStream.
 *
 * ```
 * emit() ──► EventBuffer ──► direct mode: PublishWindow ──► JetStream (msgID = event_id)
 *                       └──► spool mode:  SpoolWriter ──► segments ──► replay ──► JetStream
 * ```
 *
 * `emit()` builds and encodes the envelope and pushes it into a bounded in-memory buffer; it
 * never awaits and never touches a socket or a file. Everything else runs in the background:
 *
 * - Direct mode: the buffer is published in order with up to `maxInFlight` publishes awaiting
 *   acks. A failed or timed-out publish, or a buffer that overflowed its ring, switches to spool
 *   mode; the events not acknowledged go to the spool first, then everything after them.
 * - Spool mode: the buffer is appended to the spool (segment files, fsync'd in batches). A
 *   replay loop reconnects with backoff and publishes sealed segments in order, deleting each
 *   only after every record in it is acknowledged. When little is left it pauses the spooling,
 *   replays the rest and switches back to direct mode; events that arrived meanwhile wait in the
 *   buffer, behind everything spooled, so order per subject holds.
 * - A spool that cannot be written (disk full) leaves its events in memory; once JetStream
 *   answers they follow what the spool holds straight from memory, and direct mode keeps the
 *   overflow in memory too, until an append succeeds again.
 * - A spool left by an earlier process is replayed first at `start()`.
 *
 * Bounds: the ring holds `bufferSize` events; the spool grows to `maxSpoolBytes`; after that
 * events wait in memory (the overflow list, up to `maxOverflowBytes`). Only when both are full is
 * an event dropped, counted in `ckpool_events_dropped_total` and logged as an error. `drain()`
 * writes everything in memory to the spool even beyond `maxSpoolBytes` rather than lose it.
 *
 * Duplicates: a re-sent event carries its original `msgID`, so JetStream drops it if it was
 * stored within the last 2 minutes (the stream's duplicate window). Events are re-sent only when
 * their ack never arrived, or when a crash interrupted the replay of a segment (the whole
 * segment is replayed again, so segments are kept small); the collector's writes are idempotent
 * on `event_id` beyond the window.
 *
 * Only the process's event loop touches an emitter.
 *
 * @module
 */
import type { EventSink } from "../engine/mod.ts";
import { encodeEvent, type EventPayloads, type EventType, makeEvent } from "../events/mod.ts";
import type { StructuredLogger } from "../log/mod.ts";
import { eventSubjects } from "../nats/mod.ts";
import { EventBuffer, PushResult } from "./event_buffer.ts";
import type { EmitterMetrics } from "./emitter_metrics.ts";
import { type NatsConnector, NatsLink } from "./nats_link.ts";
import type { OutboundEvent } from "./outbound_event.ts";
import { type AckedPublisher, PublishWindow, type PublishWindowHooks } from "./publish_window.ts";
import { backoffDelayMs } from "./retry_backoff.ts";
import { replaySegment } from "./spool_replay.ts";
import { SpoolWriter } from "./spool_writer.ts";
import { sleep, Wakeup } from "./wakeup.ts";
import { DEFAULT_EMITTER_TUNING, type EmitterTuning } from "./emitter_tuning.ts";

/** Settings of an {@linkcode EventEmitter}. */
export interface EventEmitterOptions {
  /** Region token of this instance; the envelope's `region`. */
  readonly region: string;
  /** Instance id; the envelope's `source`. */
  readonly source: string;
  /** Event types to emit (`events.include`); others are ignored by `emit`. */
  readonly include: readonly EventType[];
  /**
   * Subject prefix; events go to `<prefix>.<event_type>`. `mining.events.<region>` when absent
   * (see `eventsSubjectPrefix` in shared/config).
   */
  readonly subjectPrefix?: string;
  /** Ring capacity in events (`events.buffer_size`). */
  readonly bufferSize: number;
  /** Spool directory (see `resolveSpoolDir`). */
  readonly spoolDir: string;
  /** Opens the emitter's NATS connection (see `natsConnector`). */
  readonly connector: NatsConnector;
  /** Metric cells; a `PoolMetrics` has them all. */
  readonly metrics: EmitterMetrics;
  /** Where outages, replays and drops are reported. */
  readonly log: StructuredLogger;
  /** Overrides of {@linkcode DEFAULT_EMITTER_TUNING}. */
  readonly tuning?: Partial<EmitterTuning>;
}

/** Where the background publisher sends the buffer. */
export const EmitterMode = {
  /** Straight to JetStream. */
  Direct: "direct",
  /** To the spool, while a replay loop empties the spool into JetStream. */
  Spool: "spool",
} as const;

/** Union of emitter modes. */
export type EmitterMode = typeof EmitterMode[keyof typeof EmitterMode];

/** A point-in-time view of the emitter, for logs and tests. */
export interface EmitterStatus {
  /** Current mode. */
  readonly mode: EmitterMode;
  /** Events waiting in memory. */
  readonly buffered: number;
  /** Records in the spool (0 before `start()`). */
  readonly spooledRecords: number;
  /** Bytes in the spool (0 before `start()`). */
  readonly spoolBytes: number;
}

/** Publishes sent in one go before the loop yields to the event loop (about 1 ms of work). */
const SEND_BURST = 64;

/** Outcome of one replay pass. */
const PassResult = {
  /** Segments were replayed, or the spool emptied. */
  Progressed: "progressed",
  /** Nothing was ready to replay; wait for the spooler. */
  Idle: "idle",
  /** NATS unreachable or a publish failed; back off. */
  Failed: "failed",
} as const;
type PassResult = typeof PassResult[keyof typeof PassResult];

const LifeCycle = {
  New: "new",
  Running: "running",
  Draining: "draining",
  Closed: "closed",
} as const;
type LifeCycle = typeof LifeCycle[keyof typeof LifeCycle];

/** Emits mining events to JetStream, spooling to disk while JetStream cannot take them. */
export class EventEmitter implements EventSink {
  readonly #region: string;
  readonly #source: string;
  readonly #subjects: Partial<Record<EventType, string>> = {};
  readonly #tuning: EmitterTuning;
  readonly #spoolDir: string;
  readonly #buffer: EventBuffer;
  readonly #link: NatsLink;
  readonly #metrics: EmitterMetrics;
  readonly #log: StructuredLogger;
  readonly #wakeup = new Wakeup();
  /** The direct loop just waited for more events to share a write (`#linger`). */
  #lingered = false;
  readonly #deadline = new AbortController();
  readonly #hooks: PublishWindowHooks;
  #life: LifeCycle = LifeCycle.New;
  #mode: EmitterMode = EmitterMode.Direct;
  #writer: SpoolWriter | null = null;
  /** Unacknowledged events of a failed direct window: spooled before anything in the buffer. */
  #spill: OutboundEvent[] = [];
  #spoolerPaused = false;
  /**
   * The last spool append failed (disk full): events that wait in memory for the spool may then
   * go to JetStream directly once it answers, behind what the spool holds.
   */
  #spoolFailing = false;
  #refusing = false;
  #spoolFullLogged = false;
  #outage = false;
  #lateEmitLogged = false;
  #started: Promise<void> | null = null;
  #run: Promise<void> | null = null;
  #drained: Promise<void> | null = null;

  /**
   * @throws {RangeError} when `region` is not a subject token or a size is not positive.
   */
  constructor(options: EventEmitterOptions) {
    this.#region = options.region;
    this.#source = options.source;
    this.#tuning = { ...DEFAULT_EMITTER_TUNING, ...options.tuning };
    const defaults = eventSubjects(options.region);
    for (const type of options.include) {
      this.#subjects[type] = options.subjectPrefix === undefined
        ? defaults[type]
        : `${options.subjectPrefix}.${type}`;
    }
    this.#spoolDir = options.spoolDir;
    this.#buffer = new EventBuffer(options.bufferSize, this.#tuning.maxOverflowBytes);
    this.#link = new NatsLink(options.connector);
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#hooks = {
      acked: () => {
        this.#metrics.eventsPublished.inc();
        this.#wakeup.notify();
      },
      failed: () => {
        this.#metrics.eventPublishErrors.inc();
        this.#wakeup.notify();
      },
    };
  }

  /** Current mode and backlog. */
  status(): EmitterStatus {
    return {
      mode: this.#mode,
      buffered: this.#buffer.length + this.#spill.length,
      spooledRecords: this.#writer?.records ?? 0,
      spoolBytes: this.#writer?.bytes ?? 0,
    };
  }

  /**
   * Queues one event for JetStream. Never blocks, never throws: an event that cannot be encoded
   * or that finds memory and spool both full is counted as dropped and logged.
   *
   * @param type the event kind; ignored when not in `include`.
   * @param data its payload.
   * @param verdictAtMs `performance.now()` of the share verdict behind the event; the latency
   *   histogram measures from it, or from this call when absent.
   */
  emit<T extends EventType>(type: T, data: EventPayloads[T], verdictAtMs?: number): void {
    const subject = this.#subjects[type];
    if (subject === undefined) return;
    const startMs = verdictAtMs ?? performance.now();
    if (this.#life === LifeCycle.Draining || this.#life === LifeCycle.Closed) {
      this.#dropLate(type);
      return;
    }
    let event: OutboundEvent;
    try {
      const envelope = makeEvent(type, this.#region, this.#source, data);
      event = { subject, msgId: envelope.event_id, payload: encodeEvent(envelope) };
    } catch (error) {
      this.#metrics.eventsDropped.inc();
      this.#log.error("event could not be encoded; dropped", { event: type, error: String(error) });
      return;
    }
    if (this.#buffer.push(event) === PushResult.Refused) {
      this.#metrics.eventsDropped.inc();
      if (!this.#refusing) {
        this.#refusing = true;
        this.#log.error("event buffer and spool are full; dropping events", {
          buffered: this.#buffer.length,
          spoolDir: this.#spoolDir,
        });
      }
    } else {
      if (this.#refusing) {
        this.#refusing = false;
        this.#log.warn("event buffer accepts events again");
      }
      this.#wakeup.notify();
    }
    this.#metrics.eventBufferDepth.set(this.#buffer.length + this.#spill.length);
    this.#metrics.eventEmitLatencyUs.observe((performance.now() - startMs) * 1000);
  }

  #dropLate(type: EventType): void {
    this.#metrics.eventsDropped.inc();
    if (this.#lateEmitLogged) return;
    this.#lateEmitLogged = true;
    this.#log.error("event emitted after drain began; dropped", { event: type });
  }

  /**
   * Opens the spool (recovering and queueing for replay whatever an earlier process left) and
   * starts the background publisher. Does not wait for NATS: when it is unreachable, events go
   * to the spool.
   *
   * @throws {TypeError} when called twice.
   * @throws {SpoolLockedError} when another emitter (usually another process) has the spool
   *   directory open.
   * @throws file-system errors when the spool directory cannot be created or read.
   */
  start(): Promise<void> {
    if (this.#life !== LifeCycle.New) {
      return Promise.reject(new TypeError(`Cannot start event emitter: it is ${this.#life}`));
    }
    this.#life = LifeCycle.Running;
    this.#started = this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const writer = await SpoolWriter.open({
      dir: this.#spoolDir,
      segmentMaxBytes: this.#tuning.segmentMaxBytes,
      fsyncRecords: this.#tuning.fsyncRecords,
      fsyncIntervalMs: this.#tuning.fsyncIntervalMs,
      log: this.#log,
    });
    this.#writer = writer;
    this.#metrics.eventSpoolBytes.set(writer.bytes);
    if (!writer.isEmpty()) {
      this.#mode = EmitterMode.Spool;
      this.#log.info("spooled events from an earlier run; replaying them first", {
        spoolDir: this.#spoolDir,
        records: writer.records,
        bytes: writer.bytes,
      });
    }
    this.#run = this.#loop().catch((error: unknown) => {
      this.#log.fatal("event publisher stopped", { error: String(error) });
    });
  }

  /**
   * Stops accepting events, publishes what it can until `timeoutMs` has passed, spools the
   * rest (fsync'd) and closes the NATS connection. The next process replays that spool. Events
   * emitted after this call are dropped and counted. A second call returns the first's promise.
   * Outstanding publishes may add up to `publishTimeoutMs` beyond `timeoutMs`.
   *
   * @param timeoutMs time allowed for publishing before the rest is spooled.
   */
  drain(timeoutMs: number): Promise<void> {
    if (this.#drained === null) this.#drained = this.#drain(timeoutMs);
    return this.#drained;
  }

  async #drain(timeoutMs: number): Promise<void> {
    // Started here when the caller never did, so events emitted before are not lost.
    if (this.#life === LifeCycle.New) this.start().catch(() => {});
    try {
      await this.#started;
    } catch (error) {
      const lost = this.#buffer.length;
      this.#life = LifeCycle.Closed;
      this.#metrics.eventsDropped.inc(lost);
      this.#log.error("event emitter could not start; events in memory are lost", {
        error: String(error),
        events: lost,
      });
      return;
    }
    this.#life = LifeCycle.Draining;
    const timer = setTimeout(() => this.#deadline.abort(), timeoutMs);
    this.#deadline.signal.addEventListener("abort", () => this.#wakeup.notify(), { once: true });
    this.#wakeup.notify();
    try {
      await this.#run;
    } finally {
      clearTimeout(timer);
      await this.#writer?.close();
      await this.#link.close();
      this.#life = LifeCycle.Closed;
      this.#metrics.eventBufferDepth.set(this.#buffer.length + this.#spill.length);
      this.#metrics.eventSpoolBytes.set(this.#writer?.bytes ?? 0);
    }
    const left = this.#writer?.records ?? 0;
    if (left > 0) {
      this.#log.info("event emitter closed with events spooled for the next start", {
        spoolDir: this.#spoolDir,
        records: left,
      });
    }
  }

  get #draining(): boolean {
    return this.#life === LifeCycle.Draining;
  }

  async #loop(): Promise<void> {
    for (;;) {
      if (this.#mode === EmitterMode.Direct) {
        if (await this.#runDirect()) return;
      } else {
        await this.#runSpool();
        if (this.#mode === EmitterMode.Spool) return;
      }
    }
  }

  #enterSpool(reason: string, error: unknown, unacked: readonly OutboundEvent[]): void {
    // Sent before what is left of the spill, so they go first.
    this.#spill.unshift(...unacked);
    this.#mode = EmitterMode.Spool;
    if (!this.#outage) {
      this.#outage = true;
      this.#log.warn("events go to the spool until JetStream takes them again", {
        reason,
        error: error === null ? undefined : String(error),
        spoolDir: this.#spoolDir,
      });
    }
  }

  /**
   * Waits `publishLingerMs` once when fewer than a burst of events wait, so that events of
   * nearby turns leave in one socket write: a pool answering one share per turn made one NATS
   * write (a syscall, and on loopback the server's receive path too) per share; with the wait,
   * 21% fewer syscalls in all (BENCHMARKS.md). Not while draining, and never twice in a row
   * (what arrived meanwhile goes).
   *
   * @returns true when it waited (the caller re-checks its state first).
   */
  async #linger(deadline: AbortSignal): Promise<boolean> {
    const lingerMs = this.#tuning.publishLingerMs;
    if (this.#lingered || lingerMs <= 0 || this.#draining) {
      this.#lingered = false;
      return false;
    }
    if (this.#buffer.length + this.#spill.length >= SEND_BURST) return false;
    this.#lingered = true;
    await sleep(lingerMs, deadline);
    return true;
  }

  #openWindow(nc: AckedPublisher): PublishWindow {
    const { maxInFlight, publishTimeoutMs } = this.#tuning;
    return new PublishWindow(nc, maxInFlight, publishTimeoutMs, this.#hooks);
  }

  /**
   * Publishes the spill (events the failing spool could not take), then the buffer, until a
   * publish fails, the ring overflows (unless the spool is failing: memory is then the only way
   * to JetStream) or, when draining, everything is sent or the deadline passes.
   *
   * @returns true when draining finished with everything acknowledged.
   */
  async #runDirect(): Promise<boolean> {
    if (this.#draining && this.#buffer.length === 0 && this.#spill.length === 0) return true;
    let nc: AckedPublisher;
    try {
      nc = await this.#link.connection();
    } catch (error) {
      this.#enterSpool("cannot connect to NATS", error, []);
      return false;
    }
    let window: PublishWindow;
    try {
      window = this.#openWindow(nc);
    } catch (error) {
      this.#enterSpool("cannot subscribe for acks", error, []);
      return false;
    }
    const deadline = this.#deadline.signal;
    let reason = "";
    for (;;) {
      if (window.failed) {
        reason = "publish failed";
        break;
      }
      if (this.#buffer.overflowLength > 0 && !this.#spoolFailing) {
        reason = "buffer ring full";
        break;
      }
      if (deadline.aborted) {
        reason = "drain deadline passed";
        break;
      }
      if (window.hasRoom && (this.#spill.length > 0 || this.#buffer.length > 0)) {
        if (await this.#linger(deadline)) continue;
        for (let sent = 0; sent < SEND_BURST && window.hasRoom; sent++) {
          const event = this.#spill.shift() ?? this.#buffer.shift();
          if (event === undefined) break;
          window.send(event);
        }
        this.#metrics.eventBufferDepth.set(this.#buffer.length + this.#spill.length);
        // Let sockets and timers run between bursts: a backlog must not stall the share path.
        if (window.inFlight > 0) await this.#wakeup.wait();
        continue;
      }
      if (
        this.#draining && this.#buffer.length === 0 && this.#spill.length === 0 &&
        window.inFlight === 0
      ) break;
      await this.#wakeup.wait();
    }
    const settled = await window.close();
    if (reason === "publish failed") await this.#dropSuspectConnection();
    if (reason === "") return true;
    if (
      reason === "drain deadline passed" && settled.unacked.length === 0 &&
      this.#buffer.length === 0 && this.#spill.length === 0
    ) {
      return true;
    }
    this.#enterSpool(reason, settled.error, settled.unacked);
    return false;
  }

  /** Spools the buffer and replays the spool until it is empty (back to direct) or drain ends. */
  async #runSpool(): Promise<void> {
    this.#spoolerPaused = false;
    await Promise.all([this.#spoolLoop(), this.#replayLoop()]);
  }

  async #spoolLoop(): Promise<void> {
    const writer = this.#writer!;
    const deadline = this.#deadline.signal;
    /** Appends failed in a row (0 while the spool takes them). */
    let failedAppends = 0;
    while (this.#mode === EmitterMode.Spool) {
      if (this.#spoolerPaused && !deadline.aborted) {
        await this.#wakeup.wait();
        continue;
      }
      // While draining, memory is written out even beyond the bound: the process is going away.
      if (writer.bytes >= this.#tuning.maxSpoolBytes && !this.#draining) {
        if (!this.#spoolFullLogged) {
          this.#spoolFullLogged = true;
          this.#log.error("event spool is full; events wait in memory", {
            spoolDir: this.#spoolDir,
            bytes: writer.bytes,
          });
        }
        await this.#wakeup.wait();
        continue;
      }
      this.#spoolFullLogged = false;
      const batch = this.#spill.length > 0
        ? this.#spill.splice(0, this.#spill.length)
        : this.#buffer.take(this.#tuning.spoolBatch);
      if (batch.length === 0) {
        if (deadline.aborted) return;
        await this.#wakeup.wait();
        continue;
      }
      this.#metrics.eventBufferDepth.set(this.#buffer.length + this.#spill.length);
      try {
        await writer.append(batch);
      } catch (error) {
        this.#spill.unshift(...batch);
        this.#spoolFailing = true;
        this.#metrics.eventBufferDepth.set(this.#buffer.length + this.#spill.length);
        this.#metrics.spoolWriteFailures.inc();
        // Once per outage: a full disk fails every attempt, and the log may sit on that disk.
        if (failedAppends++ === 0) {
          this.#log.error("cannot append events to the spool; events wait in memory, retrying", {
            spoolDir: this.#spoolDir,
            error: String(error),
          });
        }
        if (deadline.aborted) {
          this.#metrics.eventsDropped.inc(this.#spill.length + this.#buffer.length);
          this.#log.error("events lost at shutdown: the spool cannot be written", {
            events: this.#spill.length + this.#buffer.length,
          });
          this.#spill = [];
          this.#buffer.take(Number.MAX_SAFE_INTEGER);
          return;
        }
        await sleep(
          backoffDelayMs(failedAppends - 1, {
            initialMs: this.#tuning.retryInitialMs,
            maxMs: this.#tuning.spoolRetryMaxMs,
          }),
          deadline,
        );
        continue;
      }
      this.#spoolFailing = false;
      if (failedAppends > 0) {
        this.#log.info("spool writable again", {
          spoolDir: this.#spoolDir,
          failedAppends,
          events: batch.length,
        });
        failedAppends = 0;
      }
      this.#metrics.eventsSpooled.inc(batch.length);
      this.#metrics.eventSpoolBytes.set(writer.bytes);
      this.#wakeup.notify();
    }
  }

  async #replayLoop(): Promise<void> {
    const deadline = this.#deadline.signal;
    let attempt = 0;
    while (this.#mode === EmitterMode.Spool && !deadline.aborted) {
      let result: PassResult = PassResult.Failed;
      try {
        result = await this.#replayPass();
      } catch (error) {
        this.#log.error("spool replay failed", { spoolDir: this.#spoolDir, error: String(error) });
      }
      if (this.#mode !== EmitterMode.Spool) return;
      if (result === PassResult.Progressed) {
        attempt = 0;
        continue;
      }
      if (result === PassResult.Idle) {
        attempt = 0;
        this.#resumeSpooler();
        await this.#wakeup.wait();
        continue;
      }
      this.#resumeSpooler();
      await sleep(
        backoffDelayMs(attempt++, {
          initialMs: this.#tuning.retryInitialMs,
          maxMs: this.#tuning.retryMaxMs,
        }),
        deadline,
      );
    }
    this.#resumeSpooler();
  }

  /**
   * A failed or timed-out publish leaves the connection suspect: after corrupt bytes from the
   * server the client stops reading yet keeps the socket open until two pings go unanswered
   * (~20 s), and every publish on it times out meanwhile. The next attempt starts on a fresh one;
   * a re-sent event keeps its msgID, so JetStream drops it if the first copy did land.
   */
  async #dropSuspectConnection(): Promise<void> {
    try {
      await this.#link.close();
    } catch (error) {
      this.#log.debug("closing the NATS connection failed", { error: String(error) });
    }
  }

  #resumeSpooler(): void {
    if (!this.#spoolerPaused) return;
    this.#spoolerPaused = false;
    this.#wakeup.notify();
  }

  #switchToDirect(): void {
    this.#mode = EmitterMode.Direct;
    this.#spoolerPaused = false;
    this.#wakeup.notify();
  }

  /**
   * One pass: seal what the spooler wrote, publish every sealed segment in order, delete each
   * once acknowledged. When what is left is small, spooling is paused first, so the pass ends
   * with an empty spool and direct mode resumes (events emitted meanwhile wait in the buffer,
   * behind everything spooled).
   */
  async #replayPass(): Promise<PassResult> {
    const writer = this.#writer!;
    if (
      this.#draining && this.#spill.length === 0 && this.#buffer.length === 0 && writer.isEmpty()
    ) {
      this.#switchToDirect();
      return PassResult.Progressed;
    }
    let nc: AckedPublisher;
    try {
      nc = await this.#link.connection();
    } catch (error) {
      this.#log.debug("NATS still unreachable", { error: String(error) });
      return PassResult.Failed;
    }
    // The spill is newer than everything spooled: while the spool cannot take it, it follows the
    // spool to JetStream from memory instead of waiting for the disk.
    const spillReady = this.#spill.length === 0 || this.#spoolFailing;
    const handoff = writer.sealed().length === 0 && spillReady &&
      writer.activeBytes <= this.#tuning.handoffBytes;
    if (handoff) this.#spoolerPaused = true;
    else this.#resumeSpooler();
    await writer.seal();
    let replayed = 0;
    for (const segment of writer.sealed()) {
      if (this.#deadline.signal.aborted) return PassResult.Failed;
      const acked = await replaySegment(segment, {
        openWindow: () => this.#openWindow(nc),
        sendBurst: SEND_BURST,
        deadline: this.#deadline.signal,
        log: this.#log,
      });
      if (!acked) {
        await this.#dropSuspectConnection();
        return PassResult.Failed;
      }
      await writer.remove(segment.seq);
      replayed++;
      this.#metrics.eventSpoolBytes.set(writer.bytes);
      this.#wakeup.notify();
    }
    if (
      this.#spoolerPaused && (this.#spill.length === 0 || this.#spoolFailing) && writer.isEmpty()
    ) {
      this.#outage = false;
      this.#log.info("spool replayed; publishing directly again", { spoolDir: this.#spoolDir });
      this.#switchToDirect();
      return PassResult.Progressed;
    }
    return replayed > 0 ? PassResult.Progressed : PassResult.Idle;
  }
}
