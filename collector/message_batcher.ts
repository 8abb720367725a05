/**
 * Groups a stream of messages into batches of at most `maxItems`, each closed when full or
 * `maxWaitMs` after a partial batch started waiting.
 *
 * A pump moves items from the source into a buffer and pauses while the buffer holds
 * `maxBuffered` items; the JetStream iterator only sends its next pull request as it is read, so
 * the pause propagates back to the server and a slow backend never makes the collector hold
 * more than `maxBuffered` messages. Items still buffered when the source ends can be taken back
 * with {@link MessageBatcher.takeBuffered} (the collector naks them on shutdown so another
 * collector gets them at once).
 *
 * @module
 */

/** A cancellable wait. */
export interface Delay {
  /** Settles after the delay, or at once when cancelled. */
  readonly done: Promise<void>;
  /** Ends the wait early. */
  cancel(): void;
}

/** Starts a wait of `ms` milliseconds. */
export type DelayFn = (ms: number) => Delay;

/** A {@link DelayFn} on the real clock. */
export const realDelay: DelayFn = (ms: number): Delay => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
    timer = setTimeout(resolve, ms);
  });
  return {
    done,
    cancel: () => {
      clearTimeout(timer);
      resolveDone();
    },
  };
};

/** Settings of {@link MessageBatcher}. */
export interface MessageBatcherOptions {
  /** Largest batch. */
  readonly maxItems: number;
  /** How long a partial batch waits for more items. */
  readonly maxWaitMs: number;
  /** Items held before the pump stops reading the source; at least `maxItems`. */
  readonly maxBuffered: number;
  /** Timer; the real clock unless given. */
  readonly delay?: DelayFn;
}

/** Batches items read from an async iterable. */
export class MessageBatcher<T> {
  readonly #maxItems: number;
  readonly #maxWaitMs: number;
  readonly #maxBuffered: number;
  readonly #delay: DelayFn;
  #buffer: T[] = [];
  #ended = false;
  #error: unknown = undefined;
  /** Wakes a waiting {@link next} (an item arrived or the source ended). */
  #wakeConsumer: (() => void) | undefined;
  /** Wakes the paused pump (room in the buffer). */
  #wakePump: (() => void) | undefined;
  /** Settles when the pump has stopped reading the source. */
  readonly pumped: Promise<void>;

  /**
   * Starts reading `source` at once.
   *
   * @param source The messages, e.g. a JetStream `consume()` iterator.
   * @param options Batch size, wait and buffer bound.
   * @throws {RangeError} If a size is not a positive integer or `maxBuffered < maxItems`.
   */
  constructor(source: AsyncIterable<T>, options: MessageBatcherOptions) {
    const { maxItems, maxWaitMs, maxBuffered } = options;
    if (!Number.isInteger(maxItems) || maxItems < 1) {
      throw new RangeError(`Cannot batch: maxItems ${maxItems} is not a positive integer`);
    }
    if (!(maxWaitMs >= 0)) {
      throw new RangeError(`Cannot batch: maxWaitMs ${maxWaitMs} is negative`);
    }
    if (!Number.isInteger(maxBuffered) || maxBuffered < maxItems) {
      throw new RangeError(`Cannot batch: maxBuffered ${maxBuffered} is below maxItems`);
    }
    this.#maxItems = maxItems;
    this.#maxWaitMs = maxWaitMs;
    this.#maxBuffered = maxBuffered;
    this.#delay = options.delay ?? realDelay;
    this.pumped = this.#pump(source);
  }

  /** Items read from the source and not yet handed out. */
  get buffered(): number {
    return this.#buffer.length;
  }

  async #pump(source: AsyncIterable<T>): Promise<void> {
    try {
      for await (const item of source) {
        this.#buffer.push(item);
        this.#notifyConsumer();
        while (this.#buffer.length >= this.#maxBuffered) {
          await new Promise<void>((resolve) => this.#wakePump = resolve);
        }
      }
    } catch (error: unknown) {
      this.#error = error;
    } finally {
      this.#ended = true;
      this.#notifyConsumer();
    }
  }

  #notifyConsumer(): void {
    const wake = this.#wakeConsumer;
    this.#wakeConsumer = undefined;
    wake?.();
  }

  #take(): T[] {
    const batch = this.#buffer.splice(0, this.#maxItems);
    if (this.#buffer.length < this.#maxBuffered) {
      const wake = this.#wakePump;
      this.#wakePump = undefined;
      wake?.();
    }
    return batch;
  }

  /**
   * Waits for the next batch: at once when `maxItems` are buffered, else up to `maxWaitMs`
   * after the first item is available.
   *
   * @returns A non-empty batch, or an empty array once the source has ended and everything
   *   was handed out.
   * @throws The source's error, once the items read before it are handed out.
   */
  async next(): Promise<T[]> {
    while (this.#buffer.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => this.#wakeConsumer = resolve);
    }
    if (this.#buffer.length === 0) {
      if (this.#error !== undefined) {
        const error = this.#error;
        this.#error = undefined;
        throw error;
      }
      return [];
    }
    if (this.#buffer.length < this.#maxItems && !this.#ended && this.#maxWaitMs > 0) {
      const timer = this.#delay(this.#maxWaitMs);
      let expired = false;
      void timer.done.then(() => {
        expired = true;
        this.#notifyConsumer();
      });
      while (this.#buffer.length < this.#maxItems && !this.#ended && !expired) {
        await new Promise<void>((resolve) => this.#wakeConsumer = resolve);
      }
      timer.cancel();
    }
    return this.#take();
  }

  /**
   * Removes and returns every buffered item (for shutdown, after the source was stopped).
   *
   * @returns The items in arrival order.
   */
  takeBuffered(): T[] {
    const rest = this.#buffer;
    this.#buffer = [];
    const wake = this.#wakePump;
    this.#wakePump = undefined;
    wake?.();
    return rest;
  }
}
