/**
 * The JSON text of an event's payload, made once per event: PostgreSQL (the `payload` column)
 * and Redis (the stream entry's `data` field) both need it, and stringifying it twice was a
 * measurable share of the collector's CPU.
 *
 * @module
 */
import type { MiningEvent } from "@tbg/shared/events";

// Keyed by the payload object, so an entry lives exactly as long as the event it belongs to.
const cache = new WeakMap<object, string>();

/**
 * `JSON.stringify(event.data)`, computed on the first call for this payload object.
 *
 * @param event A parsed event; its payload must not be mutated afterwards.
 * @returns The payload as JSON text.
 */
export function dataJson(event: MiningEvent): string {
  const data = event.data as object;
  let text = cache.get(data);
  if (text === undefined) {
    text = JSON.stringify(data);
    cache.set(data, text);
  }
  return text;
}
