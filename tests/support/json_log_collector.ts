/**
 * Collects a child process's JSON log lines (stdout and stderr) and lets tests wait for a line
 * matching a predicate, failing fast when the process exits first. Shared by every test and
 * benchmark that starts a service as a process.
 */

/** One parsed log line (`{ raw }` for a line that is not JSON). */
export type LogLine = Record<string, unknown>;

/** Log lines of one child process. */
export class JsonLogCollector {
  /** Every line so far (the oldest are dropped past `maxLines`). */
  readonly logs: LogLine[] = [];
  readonly #maxLines: number;
  readonly #waiters = new Set<
    { predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }
  >();
  #exited = false;
  /** Resolves when both streams have ended. */
  readonly done: Promise<void>;

  /** Starts reading `streams`; `maxLines` bounds memory on long runs. */
  constructor(streams: readonly ReadableStream<Uint8Array>[], maxLines = 10_000) {
    this.#maxLines = maxLines;
    this.done = Promise.all(streams.map((s) => this.#pump(s))).then(() => {
      this.#exited = true;
      for (const waiter of this.#waiters) waiter.resolve({ exited: true });
    });
  }

  /** The last `n` lines as JSON, for error messages. */
  tail(n = 6): string {
    return JSON.stringify(this.logs.slice(-n));
  }

  /** Waits for a matching line (already received lines count); rejects on timeout or exit. */
  waitFor(
    predicate: (l: LogLine) => boolean,
    timeoutMs: number,
    what = "process",
  ): Promise<LogLine> {
    const found = this.logs.find(predicate);
    if (found) return Promise.resolve(found);
    if (this.#exited) {
      return Promise.reject(new Error(`${what} exited; last lines: ${this.tail()}`));
    }
    return new Promise<LogLine>((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          if (l.exited === true && !predicate(l)) {
            reject(new Error(`${what} exited; last lines: ${this.tail()}`));
          } else resolve(l);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new Error(`no matching ${what} log within ${timeoutMs} ms; last lines: ${this.tail()}`),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let parsed: LogLine;
        try {
          parsed = JSON.parse(line);
        } catch {
          parsed = { raw: line };
        }
        this.logs.push(parsed);
        if (this.logs.length > this.#maxLines) this.logs.splice(0, this.#maxLines / 2);
        for (const waiter of this.#waiters) if (waiter.predicate(parsed)) waiter.resolve(parsed);
      }
    }
  }
}
