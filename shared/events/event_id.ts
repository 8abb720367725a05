/**
 * Event ids: UUIDv7, so ids sort by creation time and double as JetStream message ids.
 *
 * @module
 */
import { v7 } from "uuid";

/**
 * Creates a new event id.
 *
 * Ids from one process are strictly increasing as strings, even within one millisecond and if
 * the wall clock steps back: uuid's v7 keeps a per-process counter and never reuses a past
 * timestamp.
 *
 * @returns A lower-case canonical UUIDv7, e.g. `"0190a3b4-7c8d-7000-b123-456789abcdef"`.
 */
export function newEventId(): string {
  return v7();
}

/**
 * Reads the creation time embedded in a UUIDv7 (its first 48 bits).
 *
 * @param eventId A canonical UUIDv7.
 * @returns Milliseconds since the Unix epoch.
 * @throws {SyntaxError} If `eventId` does not start with 8 hex digits, a dash and 4 hex digits.
 */
export function eventIdTimeMs(eventId: string): number {
  const match = /^([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-/.exec(eventId);
  if (match === null) {
    throw new SyntaxError(`Cannot read event id time: ${JSON.stringify(eventId)} is not a UUID`);
  }
  return Number.parseInt(`${match[1]}${match[2]}`, 16);
}
