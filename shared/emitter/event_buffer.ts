/**
 * The in-process queue between `emit()` (share path) and the background publisher.
 *
 * A fixed-capacity ring holds the normal backlog. When the ring is full the event is not
 * dropped: it goes to an overflow list (bounded by payload bytes), and from then on every new
 * event goes there too until the overflow is empty again, so the queue stays one FIFO. A
 * non-empty overflow is the publisher's cue that it fell behind and must spill to the spool.
 * Only when the overflow bound is also reached is an event refused.
 *
 * Owned by the event loop: `push` is called by `emit`, `shift`/`take` by the publisher; neither
 * ever awaits.
 *
 * @module
 */
import type { OutboundEvent } from "./outbound_event.ts";

/** Where {@linkcode EventBuffer.push} put an event. */
export const PushResult = {
  /** In the ring. */
  Ring: "ring",
  /** In the overflow list: the ring was full, or earlier events are still in the overflow. */
  Overflow: "overflow",
  /** Refused: ring full and overflow at its byte bound. */
  Refused: "refused",
} as const;

/** Union of push outcomes. */
export type PushResult = typeof PushResult[keyof typeof PushResult];

/** Overflow slots consumed before the overflow array is compacted. */
const COMPACT_AFTER = 4096;

/** A bounded FIFO of encoded events: ring first, then overflow. */
export class EventBuffer {
  /** Ring capacity in events. */
  readonly capacity: number;
  /** Payload bytes the overflow may hold. */
  readonly maxOverflowBytes: number;
  readonly #ring: (OutboundEvent | undefined)[];
  #head = 0;
  #count = 0;
  #overflow: OutboundEvent[] = [];
  #overflowHead = 0;
  #overflowBytes = 0;

  /**
   * @param capacity ring size in events (`events.buffer_size`).
   * @param maxOverflowBytes payload bytes the overflow may hold beyond the ring.
   * @throws {RangeError} when `capacity` is not a positive integer or `maxOverflowBytes` is
   *   negative or not an integer.
   */
  constructor(capacity: number, maxOverflowBytes: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot create event buffer: capacity ${capacity} is not positive`);
    }
    if (!Number.isSafeInteger(maxOverflowBytes) || maxOverflowBytes < 0) {
      throw new RangeError(
        `Cannot create event buffer: overflow bound ${maxOverflowBytes} is not a byte count`,
      );
    }
    this.capacity = capacity;
    this.maxOverflowBytes = maxOverflowBytes;
    this.#ring = new Array<OutboundEvent | undefined>(capacity);
  }

  /** Events queued (ring plus overflow). */
  get length(): number {
    return this.#count + this.#overflow.length - this.#overflowHead;
  }

  /** Events in the overflow list. */
  get overflowLength(): number {
    return this.#overflow.length - this.#overflowHead;
  }

  /** Payload bytes in the overflow list. */
  get overflowBytes(): number {
    return this.#overflowBytes;
  }

  /**
   * Appends an event at the tail.
   *
   * @returns where it went; {@linkcode PushResult.Refused} leaves the buffer unchanged.
   */
  push(event: OutboundEvent): PushResult {
    if (this.#count < this.capacity && this.#overflowHead === this.#overflow.length) {
      this.#ring[(this.#head + this.#count) % this.capacity] = event;
      this.#count++;
      return PushResult.Ring;
    }
    if (this.#overflowBytes + event.payload.length > this.maxOverflowBytes) {
      return PushResult.Refused;
    }
    this.#overflow.push(event);
    this.#overflowBytes += event.payload.length;
    return PushResult.Overflow;
  }

  /** Removes and returns the oldest event, or `undefined` when empty. */
  shift(): OutboundEvent | undefined {
    if (this.#count > 0) {
      const event = this.#ring[this.#head];
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
      this.#count--;
      return event;
    }
    if (this.#overflowHead === this.#overflow.length) return undefined;
    const event = this.#overflow[this.#overflowHead]!;
    this.#overflowHead++;
    this.#overflowBytes -= event.payload.length;
    if (this.#overflowHead === this.#overflow.length) {
      this.#overflow = [];
      this.#overflowHead = 0;
    } else if (
      this.#overflowHead >= COMPACT_AFTER && this.#overflowHead * 2 >= this.#overflow.length
    ) {
      this.#overflow = this.#overflow.slice(this.#overflowHead);
      this.#overflowHead = 0;
    }
    return event;
  }

  /**
   * Removes up to `max` of the oldest events.
   *
   * @returns them, oldest first (empty when the buffer is).
   */
  take(max: number): OutboundEvent[] {
    const taken: OutboundEvent[] = [];
    while (taken.length < max) {
      const event = this.shift();
      if (event === undefined) break;
      taken.push(event);
    }
    return taken;
  }
}
