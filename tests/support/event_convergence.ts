/**
 * Checks that a region's events converge on the hub: every event published at the edge is in the
 * hub's MINING_EVENTS exactly once, in publish order, and came through the sourcing of the
 * region's edge stream (not directly across the leaf link). Shared by the topology tests and the
 * multi-region chaos tests, which run the same partition scenario for seconds or for minutes.
 *
 * @module
 */
import { connect, type NatsConnection } from "nats";
import { jetstream, jetstreamManager, type StoredMsg } from "nats/jetstream";
import { encodeEvent, EventType, makeEvent, parseEvent } from "@tbg/shared/events";
import { eventSubject, MINING_EVENTS_STREAM_NAME } from "@tbg/shared/nats";
import type { PartitionSpec } from "./latency_bridge.ts";
import type { NatsTopology } from "./servers/nats_topology.ts";

/** One event as stored in the hub's MINING_EVENTS. */
export interface HubEvent {
  /** Sequence in MINING_EVENTS. */
  readonly seq: number;
  /** Subject, `mining.events.<region>.<type>`. */
  readonly subject: string;
  /** `Nats-Msg-Id` (the event's `event_id`), or `undefined` if the publisher set none. */
  readonly msgId: string | undefined;
  /** The event's `event_id` from its body. */
  readonly eventId: string;
  /** Name of the stream it was sourced from (`Nats-Stream-Source`), or `undefined` if direct. */
  readonly sourceStream: string | undefined;
  /** Sequence in the source stream, or `undefined` if direct. */
  readonly sourceSeq: number | undefined;
}

/** Upper bound of any wait here when the caller gives none. */
const DEFAULT_TIMEOUT_MS = 30_000;
const POLL_MS = 50;
const TEST_USER = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Parses `Nats-Stream-Source: <stream>:<hash> <seq>` (nats-server 2.9 form). */
function parseSourceHeader(value: string): { stream: string; seq: number } | undefined {
  const match = /^([^:\s]+)(?::\S*)?\s+(\d+)/.exec(value);
  if (match === null) return undefined;
  return { stream: match[1] as string, seq: Number(match[2]) };
}

function toHubEvent(message: StoredMsg): HubEvent {
  const source = message.header?.get("Nats-Stream-Source");
  const parsed = source ? parseSourceHeader(source) : undefined;
  const msgId = message.header?.get("Nats-Msg-Id") || undefined;
  return {
    seq: message.seq,
    subject: message.subject,
    msgId,
    eventId: parseEvent(message.data).event_id,
    sourceStream: parsed?.stream,
    sourceSeq: parsed?.seq,
  };
}

/**
 * A share event for `region`, valid per the event schema, with a fresh UUIDv7 `event_id`.
 *
 * @param region Region slug.
 * @param index Distinguishes events in failure messages (the worker name).
 * @returns The event.
 */
export function sampleShareEvent(region: string, index: number): ReturnType<typeof makeEvent> {
  return makeEvent(EventType.ShareSubmitted, region, `relay-${region}-test`, {
    user: TEST_USER,
    worker: `w${index}`,
    session_id: "0a1b2c3d",
    job_id: "6a",
    share_diff: 4096,
    pool_diff: 1024,
    accepted: true,
    block_candidate: false,
  });
}

/**
 * Publishes `count` share events of `region` to its leaf with JetStream (acknowledged by the
 * leaf's own stream, so it works while the link to the hub is cut), one after another.
 *
 * @param nc A connection to the leaf.
 * @param region Region slug.
 * @param count Events to publish.
 * @param options `intervalMs` between publishes; `onPublished` after each acknowledgement.
 * @returns The `event_id`s in publish order.
 * @throws {Error} If a publish is not acknowledged by the region's edge stream.
 */
export async function publishRegionEvents(
  nc: NatsConnection,
  region: string,
  count: number,
  options: { intervalMs?: number; expectStream?: string; onPublished?: (i: number) => void } = {},
): Promise<string[]> {
  const js = jetstream(nc);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const event = sampleShareEvent(region, i);
    const ack = await js.publish(eventSubject(region, event.event), encodeEvent(event), {
      msgID: event.event_id,
    });
    if (options.expectStream !== undefined && ack.stream !== options.expectStream) {
      throw new Error(
        `Cannot publish event ${i} of ${region}: acknowledged by ${ack.stream}, ` +
          `not ${options.expectStream}`,
      );
    }
    if (ack.duplicate) throw new Error(`Cannot publish event ${i}: reported as a duplicate`);
    ids.push(event.event_id);
    options.onPublished?.(i);
    if (options.intervalMs !== undefined && options.intervalMs > 0 && i + 1 < count) {
      await delay(options.intervalMs);
    }
  }
  return ids;
}

/**
 * Every message of MINING_EVENTS on the hub whose subject is in `region` (all if unset).
 *
 * @param nc A connection to the hub.
 * @param region Region slug, or `undefined` for all regions.
 * @returns The messages in stream order.
 */
export async function readHubEvents(nc: NatsConnection, region?: string): Promise<HubEvent[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(MINING_EVENTS_STREAM_NAME);
  const prefix = region === undefined ? "mining.events." : `mining.events.${region}.`;
  const out: HubEvent[] = [];
  for (
    let seq = info.state.first_seq;
    seq <= info.state.last_seq && info.state.messages > 0;
    seq++
  ) {
    const message = await jsm.streams.getMessage(MINING_EVENTS_STREAM_NAME, { seq }).catch(
      () => null,
    );
    if (message !== null && message.subject.startsWith(prefix)) out.push(toHubEvent(message));
  }
  return out;
}

/**
 * Waits until the hub holds at least `count` messages of `region`.
 *
 * @returns Milliseconds waited.
 * @throws {Error} After `timeoutMs`, naming how many arrived.
 */
export async function waitHubCount(
  nc: NatsConnection,
  region: string,
  count: number,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  const filter = `mining.events.${region}.>`;
  let seen = 0;
  while (Date.now() < deadline) {
    const info = await jsm.streams.info(MINING_EVENTS_STREAM_NAME, { subjects_filter: filter });
    seen = Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
    if (seen >= count) return performance.now() - started;
    await delay(POLL_MS);
  }
  throw new Error(`Hub holds ${seen} of ${count} events of ${region} after ${timeoutMs} ms`);
}

/**
 * Asserts that `events` (the hub's messages of one region) are exactly `expectedIds`, once each,
 * in order, each sourced from `sourceStream` with increasing source sequences.
 *
 * @throws {Error} Naming the first difference.
 */
export function assertConverged(
  events: readonly HubEvent[],
  expectedIds: readonly string[],
  sourceStream: string,
): void {
  const seen = new Map<string, number>();
  for (const event of events) seen.set(event.eventId, (seen.get(event.eventId) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  if (twice.length > 0) {
    throw new Error(`${twice.length} event(s) stored more than once on the hub, e.g. ${twice[0]}`);
  }
  const expected = new Set(expectedIds);
  const missing = expectedIds.filter((id) => !seen.has(id));
  if (missing.length > 0) {
    throw new Error(`${missing.length} of ${expectedIds.length} event(s) missing on the hub`);
  }
  const extra = events.filter((event) => !expected.has(event.eventId));
  if (extra.length > 0) {
    throw new Error(`${extra.length} unexpected event(s) on the hub, e.g. ${extra[0]?.eventId}`);
  }
  events.forEach((event, i) => {
    if (event.eventId !== expectedIds[i]) {
      throw new Error(`Hub order differs at ${i}: ${event.eventId}, expected ${expectedIds[i]}`);
    }
    if (event.msgId !== event.eventId) {
      throw new Error(`Hub message ${event.seq} has Nats-Msg-Id ${event.msgId}, not its event_id`);
    }
    if (event.sourceStream !== sourceStream) {
      throw new Error(
        `Hub message ${event.seq} came ${
          event.sourceStream === undefined ? "directly" : `from ${event.sourceStream}`
        }, not sourced from ${sourceStream}`,
      );
    }
    const previous = events[i - 1]?.sourceSeq ?? 0;
    if ((event.sourceSeq ?? 0) <= previous) {
      throw new Error(
        `Hub message ${event.seq}: source sequence ${event.sourceSeq} after ${previous}`,
      );
    }
  });
}

/** Parameters of {@link runPartitionScenario}. */
export interface PartitionScenario {
  /** The topology (streams provisioned). */
  readonly topology: NatsTopology;
  /** Region whose link is cut. */
  readonly region: string;
  /** How the link is cut. */
  readonly partition: PartitionSpec;
  /** How long the link stays cut (seconds in tests, 120 000 in the chaos test). */
  readonly partitionMs: number;
  /** Events published before the cut (and converged before it). */
  readonly eventsBefore: number;
  /** Events published during the cut, spread over it. */
  readonly eventsDuring: number;
  /** Events published after the heal. */
  readonly eventsAfter: number;
  /** Longest wait for convergence after the heal. Default 60 s. */
  readonly convergeTimeoutMs?: number;
  /** How long to keep watching after convergence for late duplicates. Default 1 s. */
  readonly settleMs?: number;
}

/** What {@link runPartitionScenario} observed. */
export interface PartitionOutcome {
  /** Events of the region on the hub during the cut that were not there before it. */
  readonly arrivedDuringPartition: number;
  /** Whether the hub stopped listing the leaf's connection before the heal. */
  readonly hubDroppedLeaf: boolean;
  /** Milliseconds from the heal until every event was on the hub. */
  readonly convergedAfterHealMs: number;
  /** Every event, in publish order. */
  readonly eventIds: readonly string[];
  /** The hub's messages of the region at the end. */
  readonly hubEvents: readonly HubEvent[];
}

/**
 * Publishes events before, during and after a cut of one leaf's link to the hub, then checks
 * that all of them reached the hub exactly once and in order. Publishing during the cut must
 * succeed (the leaf's own stream acknowledges).
 *
 * @returns What was observed; the convergence assertions have already passed.
 * @throws {Error} If a publish fails, events leak to the hub during the cut, or convergence fails.
 */
export async function runPartitionScenario(s: PartitionScenario): Promise<PartitionOutcome> {
  const leaf = s.topology.leaf(s.region);
  const leafNc = await connect({ servers: leaf.url, timeout: 5_000 });
  const hubNc = await connect(s.topology.hub.connectOptions({ timeout: 5_000 }));
  try {
    const baseline = (await readHubEvents(hubNc, s.region)).map((event) => event.eventId);
    const publish = (count: number, intervalMs?: number) =>
      publishRegionEvents(leafNc, s.region, count, {
        expectStream: leaf.streamName,
        ...(intervalMs === undefined ? {} : { intervalMs }),
      });

    const before = await publish(s.eventsBefore);
    await waitHubCount(hubNc, s.region, baseline.length + before.length);

    const linkPorts = new Set(leaf.bridge.targetSidePorts());
    leaf.bridge.partition(s.partition);
    const cutAt = performance.now();
    const healAt = cutAt + s.partitionMs;
    const spread = s.eventsDuring > 1 ? Math.floor(s.partitionMs / 2 / s.eventsDuring) : 0;
    const during = await publish(s.eventsDuring, spread);
    let hubDroppedLeaf = false;
    while (performance.now() < healAt) {
      if (!hubDroppedLeaf) {
        const entries = await s.topology.hub.leafz().catch(() => undefined);
        hubDroppedLeaf = entries !== undefined && !entries.some((e) => linkPorts.has(e.port));
      }
      await delay(Math.min(POLL_MS * 4, Math.max(0, healAt - performance.now())));
    }
    const countDuring = (await readHubEvents(hubNc, s.region)).length;
    const arrivedDuringPartition = countDuring - baseline.length - before.length;

    leaf.bridge.heal();
    const healedAt = performance.now();
    const after = await publish(s.eventsAfter);
    const all = [...baseline, ...before, ...during, ...after];
    await waitHubCount(hubNc, s.region, all.length, s.convergeTimeoutMs ?? 60_000);
    const convergedAfterHealMs = performance.now() - healedAt;
    await delay(s.settleMs ?? 1_000);
    const hubEvents = await readHubEvents(hubNc, s.region);
    assertConverged(hubEvents, all, leaf.streamName);
    return {
      arrivedDuringPartition,
      hubDroppedLeaf,
      convergedAfterHealMs,
      eventIds: all,
      hubEvents,
    };
  } finally {
    await leafNc.close();
    await hubNc.close();
  }
}
