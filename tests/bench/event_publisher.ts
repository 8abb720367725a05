/**
 * Fills the MINING_EVENTS stream with a realistic backlog as fast as JetStream takes it: many
 * acknowledged publishes in flight (each with its event id as `Nats-Msg-Id`, as the pool sends
 * them), so the collector benchmarks measure draining, not publishing.
 *
 * @module
 */
import { connect } from "nats";
import { jetstream, type PubAck } from "nats/jetstream";
import { encodedEvents, type EventMixOptions } from "./event_mix.ts";
import type { EventType } from "@tbg/shared/events";

/** Publishes awaiting their ack at once. */
const IN_FLIGHT = 2_000;
/** Longest wait for one publish ack. */
const ACK_TIMEOUT_MS = 30_000;

/** What {@link prefillStream} published. */
export interface PrefillResult {
  readonly events: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly byType: Readonly<Partial<Record<EventType, number>>>;
}

/**
 * Publishes `count` events of the mix to the stream at `natsUrl` (which must exist).
 *
 * @throws when a publish is refused or not acknowledged, or a duplicate is reported (the ids are
 *   fresh, so a duplicate means the stream already held them).
 */
export async function prefillStream(
  natsUrl: string,
  count: number,
  mix: EventMixOptions,
): Promise<PrefillResult> {
  const nc = await connect({ servers: natsUrl, name: "tbg-bench-prefill" });
  const js = jetstream(nc, { timeout: ACK_TIMEOUT_MS });
  const byType: Partial<Record<EventType, number>> = {};
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  let bytes = 0;
  const startedMs = performance.now();
  try {
    for (const event of encodedEvents(count, mix)) {
      if (failure !== null) break;
      byType[event.type] = (byType[event.type] ?? 0) + 1;
      bytes += event.payload.length;
      const done: Promise<void> = js.publish(event.subject, event.payload, { msgID: event.msgId })
        .then((ack: PubAck) => {
          if (ack.duplicate) failure ??= new Error(`Cannot prefill: ${event.msgId} duplicated`);
        }, (error: unknown) => {
          failure ??= error;
        })
        .finally(() => inFlight.delete(done));
      inFlight.add(done);
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await nc.close();
  }
  if (failure !== null) throw failure;
  return { events: count, bytes, seconds: (performance.now() - startedMs) / 1000, byType };
}
