/**
 * NATS subject names, in one place, so that publishers and subscribers cannot drift apart.
 *
 * ```
 * mining.events.{region}.{event_type}   events (JetStream stream MINING_EVENTS)
 * mining.templates.{network}            current block template in full, primary → relays
 * mining.templates.{network}.live       each template as sent: a delta or the full template
 * mining.blocks.submit                  block submission, relay → primary (request/reply)
 * mining.heartbeat.{region}             instance liveness
 * mining.primary.ping                   relay → primary round trip (request/reply)
 * _INBOX.{region}.>                     replies to a relay region's requests
 * _INBOX.{region}.hub.>                 a region's replies to the hub's clients' requests
 * ```
 *
 * Every variable token is checked with {@link assertSubjectToken}: a region such as `"eu.x"` or
 * `"*"` would otherwise publish into, or subscribe to, other regions' subjects.
 *
 * @module
 */
import { ALL_EVENT_TYPES, type EventType, isEventType } from "../events/event_type.ts";

/** Characters allowed in a variable subject token. */
export const SUBJECT_TOKEN_PATTERN = /^[A-Za-z0-9_-]+$/;

/** Every event of every region; the subject filter of the MINING_EVENTS stream. */
export const EVENTS_WILDCARD = "mining.events.>";

/** Heartbeats of every region. */
export const HEARTBEATS_WILDCARD = "mining.heartbeat.*";

/** Subject on which relays request the primary to submit a block they found (request/reply). */
export const blockSubmitSubject = "mining.blocks.submit";

/**
 * Checks that a value can be used as one token of a subject.
 *
 * @param token The candidate token, e.g. a region or network name.
 * @param role What the token is, for the error message (e.g. `"region"`).
 * @throws {RangeError} If `token` is empty or has a character outside `[A-Za-z0-9_-]` (which
 *   rules out `.`, `*`, `>` and whitespace); the message names the token.
 */
export function assertSubjectToken(token: string, role = "subject token"): void {
  if (typeof token !== "string" || !SUBJECT_TOKEN_PATTERN.test(token)) {
    throw new RangeError(
      `Cannot use ${JSON.stringify(token)} as ${role}: ` +
        "a subject token must be non-empty and use only A-Z a-z 0-9 _ -",
    );
  }
}

function assertEventType(type: EventType): void {
  if (!isEventType(type)) {
    throw new RangeError(
      `Cannot build event subject: ${JSON.stringify(type)} is not an event type`,
    );
  }
}

/**
 * Subject of one region's events of one type.
 *
 * @param region Region token, e.g. `"eu"`.
 * @param type Event type.
 * @returns `mining.events.{region}.{type}`.
 * @throws {RangeError} If `region` is not a valid token or `type` is not an event type.
 */
export function eventSubject(region: string, type: EventType): string {
  assertSubjectToken(region, "region");
  assertEventType(type);
  return `mining.events.${region}.${type}`;
}

/**
 * All event subjects of one region, built and checked once, for emitters that publish on the
 * share path and should not rebuild strings per event.
 *
 * @param region Region token.
 * @returns A frozen map from event type to subject.
 * @throws {RangeError} If `region` is not a valid token.
 */
export function eventSubjects(region: string): Readonly<Record<EventType, string>> {
  assertSubjectToken(region, "region");
  const subjects = {} as Record<EventType, string>;
  for (const type of ALL_EVENT_TYPES) subjects[type] = `mining.events.${region}.${type}`;
  return Object.freeze(subjects);
}

/**
 * Filter for one region's events of every type.
 *
 * @param region Region token.
 * @returns `mining.events.{region}.>`.
 * @throws {RangeError} If `region` is not a valid token.
 */
export function regionEventsWildcard(region: string): string {
  assertSubjectToken(region, "region");
  return `mining.events.${region}.>`;
}

/**
 * Filter for one event type from every region.
 *
 * @param type Event type.
 * @returns `mining.events.*.{type}`.
 * @throws {RangeError} If `type` is not an event type.
 */
export function eventTypeWildcard(type: EventType): string {
  assertEventType(type);
  return `mining.events.*.${type}`;
}

/**
 * Subject on which the primary publishes every block template of one network in full (the
 * current one is what a relay fetches when it starts or lacks a delta's base).
 *
 * @param network Network token, e.g. `"mainnet"`, `"testnet4"`, `"regtest"`.
 * @returns `mining.templates.{network}`.
 * @throws {RangeError} If `network` is not a valid token.
 */
export function templateSubject(network: string): string {
  assertSubjectToken(network, "network");
  return `mining.templates.${network}`;
}

/**
 * Subject on which the primary publishes each template as it is made, as a delta against the
 * previous one or in full, whichever is smaller; relays follow it.
 *
 * @param network Network token.
 * @returns `mining.templates.{network}.live`.
 * @throws {RangeError} If `network` is not a valid token.
 */
export function templateLiveSubject(network: string): string {
  return `${templateSubject(network)}.live`;
}

/**
 * Subject on which an instance publishes its heartbeats.
 *
 * @param region Region token.
 * @returns `mining.heartbeat.{region}`.
 * @throws {RangeError} If `region` is not a valid token.
 */
export function heartbeatSubject(region: string): string {
  assertSubjectToken(region, "region");
  return `mining.heartbeat.${region}`;
}

/**
 * Inbox prefix of a relay region's NATS connections (`inboxPrefix` of the client): replies to its
 * requests and its JetStream consumers' deliveries come back on `_INBOX.{region}.…`, the only
 * inboxes the hub lets across that region's leafnode link. With the client's default
 * (`_INBOX.<random>`) another region's leaf could receive those replies, learn the inbox and
 * inject into it.
 *
 * @param region Region token.
 * @returns `_INBOX.{region}`.
 * @throws {RangeError} If `region` is not a valid token.
 */
export function regionInboxPrefix(region: string): string {
  assertSubjectToken(region, "region");
  return `_INBOX.${region}`;
}

/**
 * Inbox prefix of a client on the hub that sends requests into a relay region's JetStream domain
 * (an operator's `nats --js-domain <region> --inbox-prefix …`, provisioning): the leaf may answer
 * on these inboxes only, never on the hub's other clients'.
 *
 * @param region Region token.
 * @returns `_INBOX.{region}.hub` (a relay's own inboxes are `_INBOX.{region}.<random>`).
 * @throws {RangeError} If `region` is not a valid token.
 */
export function hubToRegionInboxPrefix(region: string): string {
  return `${regionInboxPrefix(region)}.hub`;
}
