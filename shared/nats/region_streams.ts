/**
 * Edge buffering of a relay region's events: each region's NATS leaf node has its own JetStream
 * domain and a local stream on `mining.events.{region}.>`; the hub's MINING_EVENTS sources every
 * such stream across domains. A relay's publish is stored at the edge (so it succeeds while the
 * link to the hub is down) and forwarded in order, once, when the link is up.
 *
 * The leaf must not also deliver its events to the hub stream through subject interest across the
 * leaf link: the hub stream binds `mining.events.>`, so the copy would arrive twice (once directly,
 * once sourced). The leaf configuration denies `mining.events.>` in both directions on that link
 * (see `infra/nats/README.md`); only the sourcing traffic (`$JS.*` and delivery inboxes) crosses.
 *
 * @module
 */
import { nanos } from "nats";
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamSource } from "nats/jetstream";
import { type MiningEventsStreamConfig, miningEventsStreamConfig } from "./stream.ts";
import { regionEventsWildcard } from "./subjects.ts";

/** JetStream domain of the hub (the primary region's NATS server). */
export const HUB_JETSTREAM_DOMAIN = "hub";

/** Region slugs usable as a JetStream domain and in a stream name (the config's region rule). */
const REGION_PATTERN = /^[a-z0-9-]{1,32}$/;

const DAY_MS = 24 * 60 * 60 * 1000;
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
/** Edge store per region; at the share rates of a large region this is about an hour of events. */
const EDGE_MAX_BYTES = 8 * 1024 ** 3;

/** The hub's MINING_EVENTS with its region sources: the single-hub fields plus `sources`. */
export type HubMiningEventsStreamConfig = MiningEventsStreamConfig & { sources: StreamSource[] };

function assertRegion(region: string): void {
  if (typeof region !== "string" || !REGION_PATTERN.test(region)) {
    throw new RangeError(
      `Cannot use ${JSON.stringify(region)} as region: use 1-32 of a-z 0-9 -`,
    );
  }
}

/**
 * JetStream API prefix of a domain, as a stream source's `external.api` takes it.
 *
 * @param domain JetStream domain, e.g. `"us-east"`.
 * @returns `$JS.{domain}.API`.
 * @throws {RangeError} If `domain` is not a region slug or {@link HUB_JETSTREAM_DOMAIN}.
 */
export function jetStreamApiPrefix(domain: string): string {
  assertRegion(domain);
  return `$JS.${domain}.API`;
}

/**
 * Prefix of the subjects on which a region's leaf delivers its stream to the hub's sourcing
 * consumer (`external.deliver`; nats-server appends `.S.<random>`). Per region, so the hub can
 * let each leaf publish only its own deliveries: with the default `$JS.S.<random>` a leaf that
 * may send its deliveries may also send into another region's.
 *
 * @param region Region slug.
 * @returns `$JS.S.{region}`.
 * @throws {RangeError} If `region` is not a region slug.
 */
export function sourceDeliverPrefix(region: string): string {
  assertRegion(region);
  return `$JS.S.${region}`;
}

/**
 * Name of a region's edge stream on its leaf node.
 *
 * @param region Region slug, e.g. `"us-east"`.
 * @returns `MINING_EVENTS_{REGION}` with `-` as `_`, e.g. `MINING_EVENTS_US_EAST`.
 * @throws {RangeError} If `region` is not a region slug.
 */
export function regionEventsStreamName(region: string): string {
  assertRegion(region);
  return `MINING_EVENTS_${region.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * A region's edge stream, created on its leaf node (in the leaf's own JetStream domain, named
 * after the region).
 *
 * Limits retention with `discard: old`, like the hub: sourcing reads with an ephemeral consumer,
 * so interest or work-queue retention would delete events while the link is down, and `discard:
 * new` would refuse publishes once the store filled with events already forwarded. The store
 * therefore bounds how long a partition can last without loss: `max_bytes` divided by the
 * region's event rate.
 *
 * @param region Region slug.
 * @returns A fresh, mutable configuration for `jsm.streams.add()`.
 * @throws {RangeError} If `region` is not a region slug.
 */
export function regionEventsStreamConfig(region: string): MiningEventsStreamConfig {
  return {
    name: regionEventsStreamName(region),
    description: `Mining events of region ${region}, kept at the edge for the hub to source`,
    subjects: [regionEventsWildcard(region)],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(DAY_MS),
    max_bytes: EDGE_MAX_BYTES,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: 1,
  };
}

/**
 * The hub's source entry for one region's edge stream, read through the region's JetStream domain
 * and delivered on the region's own subjects.
 *
 * @param region Region slug (also the leaf's JetStream domain).
 * @returns A stream source with `external.api` = `$JS.{region}.API` and `external.deliver` =
 *   {@link sourceDeliverPrefix}.
 * @throws {RangeError} If `region` is not a region slug.
 */
export function regionEventsSource(region: string): StreamSource {
  return {
    name: regionEventsStreamName(region),
    external: { api: jetStreamApiPrefix(region), deliver: sourceDeliverPrefix(region) },
  };
}

/**
 * MINING_EVENTS on the hub of a multi-region deployment: the single-hub definition plus one
 * source per relay region. The primary region keeps publishing to the hub directly.
 *
 * @param regions Relay regions whose leaf streams the hub sources (not the primary region).
 * @returns A fresh, mutable configuration for `jsm.streams.add()` or `update()`.
 * @throws {RangeError} If a region is not a slug, is the hub's domain, or appears twice (also
 *   after mapping to a stream name).
 */
export function hubMiningEventsStreamConfig(
  regions: readonly string[],
): HubMiningEventsStreamConfig {
  const names = new Set<string>();
  for (const region of regions) {
    if (region === HUB_JETSTREAM_DOMAIN) {
      throw new RangeError(
        `Cannot source region "${region}": it is the hub's own JetStream domain`,
      );
    }
    const name = regionEventsStreamName(region);
    if (names.has(name)) {
      throw new RangeError(`Cannot source region "${region}" twice (stream ${name})`);
    }
    names.add(name);
  }
  return { ...miningEventsStreamConfig(), sources: regions.map(regionEventsSource) };
}
