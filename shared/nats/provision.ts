/**
 * Creating and updating the events stream and its durable consumers.
 *
 * Two callers with different needs share this module:
 *
 * - a collector at start ({@link ensureStream}, {@link ensureConsumer}): lenient, it makes the
 *   pieces it relies on exist and keeps running on a stream it cannot fix;
 * - the provisioning tool ({@link planStream}, {@link planConsumer}, {@link applyPlan}): strict,
 *   it shows every difference before changing anything and refuses, naming the field, a change
 *   JetStream cannot make to an existing stream or consumer.
 *
 * Both compare only the fields this project manages, so settings an operator added (a stream's
 * `sources` from the regions' leaf streams, a consumer's `max_waiting`) are kept.
 *
 * @module
 */
import { nanos } from "nats";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type StreamConfig,
} from "nats/jetstream";
import { ACK_WAIT_MS, consumerConfig, type DurableConsumerConfig } from "./consumers.ts";
import { type MiningEventsStreamConfig, miningEventsStreamConfig } from "./stream.ts";
import { EVENTS_WILDCARD } from "./subjects.ts";

/** Stream fields this project sets on an existing stream; the rest stay as they are. */
export const MANAGED_STREAM_FIELDS = [
  "description",
  "subjects",
  "storage",
  "retention",
  "max_age",
  "max_bytes",
  "discard",
  "duplicate_window",
] as const satisfies readonly (keyof MiningEventsStreamConfig)[];

/**
 * Stream fields JetStream will not change on an existing stream (the client's
 * `StreamUpdateConfig` leaves them out; nats-server 2.9 refuses both).
 */
export const IMMUTABLE_STREAM_FIELDS: readonly string[] = ["storage", "retention"];

/** Consumer fields this project sets on an existing consumer. */
export const MANAGED_CONSUMER_FIELDS = [
  "description",
  "ack_policy",
  "deliver_policy",
  "replay_policy",
  "filter_subject",
  "ack_wait",
  "max_ack_pending",
  "max_deliver",
] as const satisfies readonly (keyof DurableConsumerConfig)[];

/**
 * Consumer fields JetStream will not change on an existing consumer (the client's
 * `ConsumerUpdateConfig` leaves them out).
 */
export const IMMUTABLE_CONSUMER_FIELDS: readonly string[] = [
  "ack_policy",
  "deliver_policy",
  "replay_policy",
];

/** One field whose value on the server differs from the wanted one. */
export interface FieldChange {
  /** Field name in the JetStream API's JSON. */
  readonly field: string;
  /** Value on the server (`undefined` when unset). */
  readonly current: unknown;
  /** Value this project wants. */
  readonly wanted: unknown;
  /** JetStream cannot change this field in place. */
  readonly immutable: boolean;
}

/** What provisioning one stream or consumer would do. */
export interface ProvisionPlan {
  /** What is provisioned. */
  readonly kind: "stream" | "consumer";
  /** Stream name, or durable consumer name. */
  readonly name: string;
  /** The stream a consumer belongs to (the stream's own name for a stream). */
  readonly stream: string;
  /**
   * `create` when missing, `unchanged` when every managed field matches, `update` when only
   * changeable fields differ, `conflict` when an immutable field differs.
   */
  readonly action: "create" | "unchanged" | "update" | "conflict";
  /** The differing fields (empty for `create` and `unchanged`). */
  readonly changes: readonly FieldChange[];
  /** The full configuration used for `create`, and whose managed fields `update` sets. */
  readonly wanted: MiningEventsStreamConfig | DurableConsumerConfig;
}

/** What {@link ensureStream} did. */
export type StreamOutcome = "created" | "unchanged" | "updated" | "update_refused";

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function diff(
  current: Readonly<Record<string, unknown>>,
  wanted: Readonly<Record<string, unknown>>,
  fields: readonly string[],
  immutable: readonly string[],
): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of fields) {
    if (sameValue(current[field], wanted[field])) continue;
    changes.push({
      field,
      current: current[field],
      wanted: wanted[field],
      immutable: immutable.includes(field),
    });
  }
  return changes;
}

function actionOf(changes: readonly FieldChange[]): ProvisionPlan["action"] {
  if (changes.length === 0) return "unchanged";
  return changes.some((change) => change.immutable) ? "conflict" : "update";
}

/**
 * Compares an existing stream's configuration with the wanted one.
 *
 * @param current The server's configuration.
 * @param wanted The project's configuration.
 * @returns The managed fields that differ.
 */
export function diffStream(
  current: Partial<StreamConfig>,
  wanted: MiningEventsStreamConfig,
): FieldChange[] {
  return diff(
    current as Record<string, unknown>,
    wanted as unknown as Record<string, unknown>,
    MANAGED_STREAM_FIELDS,
    IMMUTABLE_STREAM_FIELDS,
  );
}

/**
 * Compares an existing consumer's configuration with the wanted one. A consumer without a
 * filter reads every subject of the stream, which counts as `mining.events.>`.
 *
 * @param current The server's configuration.
 * @param wanted The project's configuration.
 * @returns The managed fields that differ.
 */
export function diffConsumer(
  current: Partial<ConsumerConfig>,
  wanted: DurableConsumerConfig,
): FieldChange[] {
  const normalised = { ...current, filter_subject: current.filter_subject || EVENTS_WILDCARD };
  return diff(
    normalised as Record<string, unknown>,
    wanted as unknown as Record<string, unknown>,
    MANAGED_CONSUMER_FIELDS,
    IMMUTABLE_CONSUMER_FIELDS,
  );
}

/**
 * Reads a stream from the server and plans bringing it to `wanted`. Changes nothing.
 *
 * @param jsm JetStream manager.
 * @param wanted The configuration to provision (its `name` is the stream's).
 * @returns The plan.
 * @throws On JetStream errors other than "stream not found".
 */
export async function planStream(
  jsm: JetStreamManager,
  wanted: MiningEventsStreamConfig,
): Promise<ProvisionPlan> {
  const base = { kind: "stream", name: wanted.name, stream: wanted.name, wanted } as const;
  let current: StreamConfig;
  try {
    current = (await jsm.streams.info(wanted.name)).config;
  } catch (error: unknown) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    return { ...base, action: "create", changes: [] };
  }
  const changes = diffStream(current, wanted);
  return { ...base, action: actionOf(changes), changes };
}

/**
 * Reads a durable consumer from the server and plans bringing it to `wanted`. Changes nothing.
 *
 * @param jsm JetStream manager.
 * @param stream Stream the consumer reads.
 * @param wanted The configuration to provision.
 * @returns The plan; `create` also when the stream itself does not exist yet.
 * @throws On JetStream errors other than "consumer not found" or "stream not found".
 */
export async function planConsumer(
  jsm: JetStreamManager,
  stream: string,
  wanted: DurableConsumerConfig,
): Promise<ProvisionPlan> {
  const name = wanted.durable_name;
  const base = { kind: "consumer", name, stream, wanted } as const;
  let current: ConsumerConfig;
  try {
    current = (await jsm.consumers.info(stream, name)).config;
  } catch (error: unknown) {
    if (
      !isApiError(error, JetStreamApiCodes.ConsumerNotFound) &&
      !isApiError(error, JetStreamApiCodes.StreamNotFound)
    ) {
      throw error;
    }
    return { ...base, action: "create", changes: [] };
  }
  const changes = diffConsumer(current, wanted);
  return { ...base, action: actionOf(changes), changes };
}

/** A plan's subject, e.g. `stream "MINING_EVENTS"` or `consumer "game-engine" on stream "X"`. */
export function planTarget(plan: ProvisionPlan): string {
  return plan.kind === "stream"
    ? `stream "${plan.name}"`
    : `consumer "${plan.name}" on stream "${plan.stream}"`;
}

/** `field: current → wanted` for each change. */
export function describeChanges(changes: readonly FieldChange[]): string {
  return changes.map((change) =>
    `${change.field}: ${JSON.stringify(change.current) ?? "unset"} → ${
      JSON.stringify(change.wanted)
    }`
  ).join(", ");
}

/**
 * The error for a plan whose immutable fields differ.
 *
 * @param plan A plan with action `conflict`.
 * @returns A RangeError naming each immutable field with both values and the way out.
 */
export function conflictError(plan: ProvisionPlan): RangeError {
  const fixed = plan.changes.filter((change) => change.immutable);
  const what = plan.kind === "stream"
    ? "delete the stream (its messages are lost) or move them to a new one"
    : "delete the consumer (its position is lost) and provision again";
  return new RangeError(
    `Cannot update ${planTarget(plan)}: ${fixed.map((change) => change.field).join(", ")} ` +
      `cannot be changed on an existing ${plan.kind} (${describeChanges(fixed)}); ${what}`,
  );
}

/**
 * Carries out a plan: creates, updates the managed fields, or does nothing.
 *
 * @param jsm JetStream manager.
 * @param plan From {@link planStream} or {@link planConsumer}.
 * @throws {RangeError} For a `conflict` plan (nothing is sent), or when the server refuses an
 *   update; the message names the fields and includes the server's reason.
 * @throws On other JetStream errors.
 */
export async function applyPlan(jsm: JetStreamManager, plan: ProvisionPlan): Promise<void> {
  if (plan.action === "unchanged") return;
  if (plan.action === "conflict") throw conflictError(plan);
  if (plan.kind === "stream") {
    const wanted = plan.wanted as MiningEventsStreamConfig;
    if (plan.action === "create") {
      // streams.add() writes into its argument: hand it a copy.
      await jsm.streams.add({ ...wanted, subjects: [...wanted.subjects ?? []] });
      return;
    }
    const update: Record<string, unknown> = {};
    for (const change of plan.changes) update[change.field] = change.wanted;
    await refusedAsRangeError(plan, () => jsm.streams.update(plan.name, update));
    return;
  }
  const wanted = plan.wanted as DurableConsumerConfig;
  if (plan.action === "create") {
    await jsm.consumers.add(plan.stream, { ...wanted });
    return;
  }
  const update: Record<string, unknown> = {};
  for (const change of plan.changes) update[change.field] = change.wanted;
  await refusedAsRangeError(plan, () => jsm.consumers.update(plan.stream, plan.name, update));
}

async function refusedAsRangeError(plan: ProvisionPlan, update: () => Promise<unknown>) {
  try {
    await update();
  } catch (cause: unknown) {
    if (!(cause instanceof JetStreamApiError)) throw cause;
    throw new RangeError(
      `Cannot update ${planTarget(plan)}: the server refused ${describeChanges(plan.changes)}: ` +
        cause.message,
      { cause },
    );
  }
}

/**
 * Creates the events stream, or brings an existing one to the project's settings while keeping
 * everything else it has (e.g. `sources` from the regions' leaf streams). Safe to run from
 * several collectors at once: adding an identical stream is a no-op on the server.
 *
 * @param jsm JetStream manager.
 * @param name Stream name from the config.
 * @returns What was done; `update_refused` when an immutable field differs or the server refused
 *   the change, in which case the existing stream is used as it is.
 * @throws On JetStream errors other than a refused update.
 */
export async function ensureStream(jsm: JetStreamManager, name: string): Promise<StreamOutcome> {
  const plan = await planStream(jsm, { ...miningEventsStreamConfig(), name });
  if (plan.action === "unchanged") return "unchanged";
  if (plan.action === "conflict") return "update_refused";
  try {
    await applyPlan(jsm, plan);
  } catch (error: unknown) {
    if (plan.action === "update" && error instanceof RangeError) return "update_refused";
    throw error;
  }
  return plan.action === "create" ? "created" : "updated";
}

/**
 * Creates a collector's durable consumer, or updates its ack settings and filter when they
 * drifted. Leaves its other settings alone, so a consumer the provisioning tool made is used as
 * it is.
 *
 * @param jsm JetStream manager.
 * @param stream Stream name.
 * @param durable Durable consumer name.
 * @param filter Subject filter.
 * @returns The consumer's info after the change.
 * @throws {RangeError} If the consumer exists with another ack policy, or with another filter
 *   the server refuses to change (the operator must delete it or choose another durable name).
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  filter: string,
): Promise<ConsumerInfo> {
  const wanted = consumerConfig(durable, filter);
  let info: ConsumerInfo;
  try {
    info = await jsm.consumers.info(stream, durable);
  } catch (error: unknown) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    return await jsm.consumers.add(stream, { ...wanted });
  }
  const current = info.config;
  const ackWaitNs = nanos(ACK_WAIT_MS);
  // No filter means every subject of the stream, which is mining.events.>.
  const sameFilter = (current.filter_subject || EVENTS_WILDCARD) === filter;
  if (
    sameFilter && current.ack_wait === ackWaitNs &&
    current.max_ack_pending === wanted.max_ack_pending &&
    current.ack_policy === AckPolicy.Explicit
  ) {
    return info;
  }
  if (current.ack_policy !== AckPolicy.Explicit) {
    throw new RangeError(
      `Cannot use consumer "${durable}" on stream "${stream}": its ack policy is ` +
        `"${current.ack_policy}", not "explicit"; delete it or choose another durable name`,
    );
  }
  try {
    return await jsm.consumers.update(stream, durable, {
      ack_wait: ackWaitNs,
      max_ack_pending: wanted.max_ack_pending,
      filter_subject: filter,
    });
  } catch (cause: unknown) {
    throw new RangeError(
      `Cannot use consumer "${durable}" on stream "${stream}": it filters ` +
        `"${current.filter_subject ?? ""}" and the server refused to change it to "${filter}"; ` +
        "delete it or choose another durable name",
      { cause },
    );
  }
}
