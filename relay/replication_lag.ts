/**
 * `ckpool_nats_replication_lag_ms`: how far the hub's copy of this region's events trails the
 * edge. A relay publishes its events to its leaf node's stream (`MINING_EVENTS_{REGION}`, in the
 * leaf's own JetStream domain); the hub's `MINING_EVENTS` sources that stream across the leaf
 * link. The probe asks both sides over the relay's own NATS connection:
 *
 * - the edge stream's last sequence (local JetStream API);
 * - the hub stream's source entry for the edge stream (`$JS.hub.API`), whose `lag` is the number
 *   of edge messages the hub had not stored at its last sourcing activity.
 *
 * The first edge message past `last_seq - lag` is the oldest event not yet on the hub; the lag
 * is its age (0 when there is none). While the hub cannot be asked (a partition), the last
 * sequence known to be replicated is used, so the lag keeps growing with the age of the first
 * event published after the cut: that is exactly how stale the hub is. Without an edge stream
 * (the relay publishes straight to the hub, as in a single-server setup) every acknowledged
 * event is already on the hub and the lag is 0.
 *
 * @module
 */
import type { NatsConnection } from "nats";
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "nats/jetstream";
import {
  HUB_JETSTREAM_DOMAIN,
  MINING_EVENTS_STREAM_NAME,
  regionEventsStreamName,
} from "@tbg/shared/nats";

/** What one measurement found. */
export type ReplicationLagReading =
  /** Events go to the hub directly: nothing to replicate. */
  | { readonly mode: "direct"; readonly lagMs: 0 }
  /** Events go to the edge stream. `lagMs` is undefined until the hub was reached once. */
  | {
    readonly mode: "edge";
    readonly lagMs: number | undefined;
    /** Edge messages not yet known to be on the hub. */
    readonly pending: number;
    /** The hub answered this time. */
    readonly hubReachable: boolean;
  };

/** Settings of {@link ReplicationLagProbe}. */
export interface ReplicationLagProbeOptions {
  /** This relay's region (names the edge stream). */
  readonly region: string;
  /** JetStream domain of the hub; {@link HUB_JETSTREAM_DOMAIN} unless given. */
  readonly hubDomain?: string;
  /** The hub's events stream; `MINING_EVENTS` unless given. */
  readonly hubStream?: string;
  /** Longest wait for each JetStream API answer, ms (default 2,000). */
  readonly timeoutMs?: number;
  /** Wall clock, ms since the epoch (stored message times are wall-clock). */
  readonly nowMs?: () => number;
}

/** Measures the replication lag of this region's events on demand. */
export class ReplicationLagProbe {
  readonly #edgeStream: string;
  readonly #hubDomain: string;
  readonly #hubStream: string;
  readonly #timeoutMs: number;
  readonly #nowMs: () => number;
  /** Highest edge sequence the hub is known to hold; undefined before the hub answered. */
  #replicatedThrough: number | undefined;

  /**
   * @param options region, hub names, timeout, clock
   * @throws {RangeError} when the region cannot name a stream
   */
  constructor(options: ReplicationLagProbeOptions) {
    this.#edgeStream = regionEventsStreamName(options.region);
    this.#hubDomain = options.hubDomain ?? HUB_JETSTREAM_DOMAIN;
    this.#hubStream = options.hubStream ?? MINING_EVENTS_STREAM_NAME;
    this.#timeoutMs = options.timeoutMs ?? 2_000;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** The edge stream this probe watches. */
  get edgeStream(): string {
    return this.#edgeStream;
  }

  /**
   * Measures once.
   *
   * @throws when the local JetStream API does not answer, or the hub answers but its stream does
   *   not source the edge stream (a topology mistake worth an error in the log)
   */
  async measure(connection: NatsConnection): Promise<ReplicationLagReading> {
    const local = await jetstreamManager(connection, {
      timeout: this.#timeoutMs,
      checkAPI: false,
    });
    let lastSeq: number;
    let firstSeq: number;
    try {
      const info = await local.streams.info(this.#edgeStream);
      lastSeq = info.state.last_seq;
      firstSeq = info.state.first_seq;
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
        return { mode: "direct", lagMs: 0 };
      }
      throw error;
    }
    const hubReachable = await this.#askHub(connection, lastSeq);
    const through = this.#replicatedThrough;
    if (through === undefined) return { mode: "edge", lagMs: undefined, pending: 0, hubReachable };
    const pending = Math.max(0, lastSeq - through);
    if (pending === 0) return { mode: "edge", lagMs: 0, pending, hubReachable };
    const oldest = await local.streams.getMessage(this.#edgeStream, {
      seq: Math.max(through + 1, firstSeq),
    });
    const lagMs = oldest === null ? 0 : Math.max(0, this.#nowMs() - oldest.time.getTime());
    return { mode: "edge", lagMs, pending, hubReachable };
  }

  /** Updates the replicated sequence from the hub; false when the hub could not be asked. */
  async #askHub(connection: NatsConnection, edgeLastSeq: number): Promise<boolean> {
    let sources;
    try {
      const hub = await jetstreamManager(connection, {
        domain: this.#hubDomain,
        timeout: this.#timeoutMs,
        checkAPI: false,
      });
      sources = (await hub.streams.info(this.#hubStream)).sources ?? [];
    } catch {
      // Partition, hub restarting, or no route to its domain: keep the last known position.
      return false;
    }
    const source = sources.find((s) => s.name === this.#edgeStream);
    if (source === undefined) {
      throw new Error(
        `Cannot measure replication lag: hub stream ${this.#hubStream} does not source ${this.#edgeStream}`,
      );
    }
    const through = edgeLastSeq - Math.max(0, source.lag);
    // The hub never un-stores events: the position only moves forward.
    this.#replicatedThrough = Math.max(this.#replicatedThrough ?? 0, through);
    return true;
  }
}
