/**
 * Direct measurements on a running multi-region simulation, for the multi_region_latency
 * scenario: template arrival on a relay region's leaf (primary's send stamp → receipt), event
 * replication from a leaf's edge stream to the hub's MINING_EVENTS (stored there → stored here,
 * matched by message id), and share round trips of an in-process CPU miner. Everything runs on
 * one machine, so the primary's clock, the NATS servers' and this process's are the same clock.
 *
 * @module
 */
import type { NatsConnection } from "nats";
import { type ConsumerMessages, DeliverPolicy, jetstream, type JsMsg } from "nats/jetstream";
import {
  MINING_EVENTS_STREAM_NAME,
  regionEventsStreamName,
  regionInboxPrefix,
} from "@tbg/shared/nats";
import {
  decodeTemplateDelta,
  decodeTemplateMessage,
  MINING_TEMPLATES_STREAM_NAME,
  TEMPLATES_LIVE_WILDCARD,
  TemplateWireKind,
  templateWireKind,
} from "@tbg/shared/templates";
import { CpuMiner } from "../support/stratum_client/cpu_miner.ts";
import { StratumClient } from "../support/stratum_client/client.ts";

/**
 * The nearest-rank quantile of `values` (q in [0, 1]); NaN for no values.
 *
 * @throws {RangeError} When q is outside [0, 1].
 */
export function quantile(values: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`Cannot take quantile ${q}: expected 0–1`);
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] as number;
}

/** Wall-clock milliseconds with sub-millisecond resolution (the primary stamps the same way). */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Samples collected until stopped. */
export interface Probe {
  /** Milliseconds per sample, in arrival order. */
  readonly samples: readonly number[];
  /** Messages that could not be measured (undecodable, unmatched). */
  readonly skipped: number;
  stop(): Promise<void>;
}

/**
 * Measures every template message reaching a leaf node on the live subject the relays follow
 * (a delta, or the full template after a new block): receipt here minus the primary's
 * `sentAtMs`. Read as a relay reads it, with an ordered consumer on MINING_TEMPLATES through the
 * hub's JetStream domain, so it crosses the same bridged leaf link and the same leaf permissions
 * (the leaf connection must use the region's inbox prefix).
 */
export async function watchTemplates(leaf: NatsConnection, hubDomain: string): Promise<Probe> {
  const samples: number[] = [];
  let skipped = 0;
  const consumer = await jetstream(leaf, { domain: hubDomain }).consumers.get(
    MINING_TEMPLATES_STREAM_NAME,
    { filter_subjects: TEMPLATES_LIVE_WILDCARD, deliver_policy: DeliverPolicy.New },
  );
  const messages = await consumer.consume({
    callback: (msg) => {
      const receivedAt = nowMs();
      try {
        const sentAtMs = templateWireKind(msg.data) === TemplateWireKind.delta
          ? decodeTemplateDelta(msg.data).sentAtMs
          : decodeTemplateMessage(msg.data).sentAtMs;
        samples.push(receivedAt - sentAtMs);
      } catch {
        skipped++;
      }
    },
  });
  return {
    samples,
    get skipped() {
      return skipped;
    },
    async stop() {
      await messages.close().catch(() => {});
    },
  };
}

/** Storage times of new messages of one stream, by message id. */
async function streamTimes(
  nc: NatsConnection,
  stream: string,
  subject: string,
  onStored: (id: string, storedAtMs: number) => void,
): Promise<ConsumerMessages> {
  const consumer = await jetstream(nc).consumers.get(stream, {
    filter_subjects: subject,
    deliver_policy: DeliverPolicy.New,
  });
  const messages = await consumer.consume();
  (async () => {
    for await (const msg of messages as AsyncIterable<JsMsg>) {
      const id = msg.headers?.get("Nats-Msg-Id");
      if (id) onStored(id, Number(msg.info.timestampNanos) / 1e6);
    }
  })().catch(() => {});
  return messages;
}

/**
 * Measures replication of one region's events: hub storage time minus edge storage time, per
 * event (matched by `Nats-Msg-Id`, which sourcing keeps). Only events stored on both sides
 * while the probe runs count.
 */
export async function watchReplication(
  edge: NatsConnection,
  hub: NatsConnection,
  region: string,
): Promise<Probe> {
  const subject = `mining.events.${region}.>`;
  const edgeAt = new Map<string, number>();
  const hubAt = new Map<string, number>();
  const edgeMessages = await streamTimes(
    edge,
    regionEventsStreamName(region),
    subject,
    (id, at) => edgeAt.set(id, at),
  );
  const hubMessages = await streamTimes(
    hub,
    MINING_EVENTS_STREAM_NAME,
    subject,
    (id, at) => hubAt.set(id, at),
  );
  const samples: number[] = [];
  let skipped = 0;
  return {
    samples,
    get skipped() {
      return skipped;
    },
    async stop() {
      await Promise.all([edgeMessages.close(), hubMessages.close()]).catch(() => {});
      for (const [id, storedAtHub] of hubAt) {
        const storedAtEdge = edgeAt.get(id);
        if (storedAtEdge === undefined) skipped++;
        else samples.push(storedAtHub - storedAtEdge);
      }
    },
  };
}

/** Options of {@link startRttMiner}. */
export interface RttMinerOptions {
  readonly port: number;
  /** `address.worker`. */
  readonly username: string;
  /** Hash rate cap, hashes per second. */
  readonly maxHashrate: number;
}

/**
 * A CPU miner in this process on a region's Stratum port (loopback, no bridge): each accepted
 * share's submit → answer time is a sample. Rejected shares are counted as skipped.
 */
export async function startRttMiner(options: RttMinerOptions): Promise<Probe> {
  const client = await StratumClient.start({
    host: "127.0.0.1",
    port: options.port,
    username: options.username,
    password: "x",
  });
  const samples: number[] = [];
  let skipped = 0;
  const miner = new CpuMiner(client, {
    maxHashesPerSecond: options.maxHashrate,
    // Small batches: a share's answer waits at most one batch of hashing in this process.
    batchNonces: 16,
    discardStale: true,
    onShare: (outcome) => {
      if (outcome.accepted) samples.push(outcome.latencyMs);
      else skipped++;
    },
  });
  miner.start();
  return {
    samples,
    get skipped() {
      return skipped;
    },
    async stop() {
      await miner.stop();
      client.close();
    },
  };
}

/** Milliseconds between two floor probes. */
const FLOOR_PERIOD_MS = 250;

/**
 * The floor under template propagation: a tiny message stamped and published on the hub every
 * {@link FLOOR_PERIOD_MS}, timed on arrival at the leaf; what the bridged link and two NATS
 * servers cost by themselves, measured at the same time as the templates.
 */
export async function watchFloor(
  hub: NatsConnection,
  leaf: NatsConnection,
  region: string,
): Promise<Probe> {
  // Under the region's inboxes: the hub delivers nothing else a bench may invent to a leaf.
  const subject = `${regionInboxPrefix(region)}.bench-floor`;
  const samples: number[] = [];
  let skipped = 0;
  const sub = leaf.subscribe(subject, {
    callback: (error, msg) => {
      const receivedAt = nowMs();
      if (error !== null || msg.data.byteLength !== 8) {
        skipped++;
        return;
      }
      samples.push(receivedAt - new DataView(msg.data.buffer, msg.data.byteOffset).getFloat64(0));
    },
  });
  await leaf.flush();
  const timer = setInterval(() => {
    const stamp = new Uint8Array(8);
    new DataView(stamp.buffer).setFloat64(0, nowMs());
    hub.publish(subject, stamp);
  }, FLOOR_PERIOD_MS);
  return {
    samples,
    get skipped() {
      return skipped;
    },
    async stop() {
      clearInterval(timer);
      sub.unsubscribe();
      await leaf.flush().catch(() => {});
    },
  };
}
