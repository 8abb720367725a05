/**
 * Makes sure a found block reaches a node. The block is written to disk (found_block_file.ts)
 * while the first submission is already on its way, so keeping it never delays it. When no node
 * could be asked at all (every path unreachable or timed out: a node restarting, a network blip),
 * the submission is repeated with backoff for `retryWindowMs`, since a block stays worth
 * submitting until another block at its height wins. A verdict from any node (accepted, or a
 * reject reason such as `high-hash`) ends it: asking again would get the same answer. On start
 * the pool calls {@link BlockKeeper.resubmitPending} for blocks an earlier process found but did
 * not get a verdict for (it was killed mid-submit).
 *
 * @module
 */
import type { StructuredLogger } from "../log/mod.ts";
import {
  FoundBlockState,
  markFoundBlock,
  pendingFoundBlocks,
  readFoundBlock,
  saveFoundBlock,
} from "./found_block_file.ts";
import type { BlockSubmitResult } from "./template_source.ts";

/** Something that takes a block: a template source's `submitBlock`. */
export type BlockSink = (hex: string) => Promise<BlockSubmitResult>;

/** Where and how long blocks are kept and retried. */
export interface BlockKeeperOptions {
  /** Directory of the kept blocks. */
  readonly dir: string;
  /** How long an undelivered block is retried, ms; 0 submits once. */
  readonly retryWindowMs: number;
  /** First pause between attempts, ms (default 1,000); doubles up to {@link maxRetryMs}. */
  readonly initialRetryMs?: number;
  /** Longest pause between attempts, ms (default 30,000). */
  readonly maxRetryMs?: number;
  readonly log: StructuredLogger;
  /** Told of each repeated attempt (a metric). */
  readonly onRetry?: () => void;
  /** Told when a block could not be written to {@link dir} (a metric; it is submitted anyway). */
  readonly onKeepFailure?: () => void;
}

/** Some node gave a verdict (accepted or refused), as opposed to no node answering. */
export function hasVerdict(result: BlockSubmitResult): boolean {
  return result.accepted || result.results.some((r) => r.error === undefined);
}

/** Every path failed, as a {@link BlockSubmitResult} (the sink threw). */
function unreachable(blockHash: string, error: unknown): BlockSubmitResult {
  return {
    accepted: false,
    tipMoved: false,
    blockHash,
    results: [{
      url: "submitter",
      result: null,
      error: error instanceof Error ? error.message : String(error),
      tipMoved: false,
    }],
  };
}

/** Keeps, submits and re-submits found blocks. */
export class BlockKeeper {
  readonly #sink: BlockSink;
  readonly #options: BlockKeeperOptions;
  readonly #log: StructuredLogger;
  readonly #stop = new AbortController();
  /** Ends the pauses between attempts early ({@link BlockKeeper.wake}). */
  readonly #sleepers = new Set<() => void>();
  /** Submissions (with their file marking) not yet finished, for {@link BlockKeeper.idle}. */
  readonly #inFlight = new Set<Promise<unknown>>();

  /**
   * @param sink submits a block by every path (the template source's `submitBlock`)
   * @param options directory, retry window and logger
   */
  constructor(sink: BlockSink, options: BlockKeeperOptions) {
    this.#sink = sink;
    this.#options = options;
    this.#log = options.log;
  }

  /**
   * Keeps the block on disk and submits it, repeating while no node can be asked and the retry
   * window lasts. Never throws: a failure to keep the block is logged (the submission goes on).
   *
   * @returns the last submission's result
   */
  submit(blockHex: string, hashHex: string, height: number): Promise<BlockSubmitResult> {
    return this.#track(this.#submit(blockHex, hashHex, height));
  }

  async #submit(blockHex: string, hashHex: string, height: number): Promise<BlockSubmitResult> {
    const kept = saveFoundBlock(this.#options.dir, height, hashHex, blockHex).then(
      (path) => {
        this.#log.info("block kept", { hash: hashHex, height, path });
        return path;
      },
      (error: unknown) => {
        this.#options.onKeepFailure?.();
        this.#log.error("cannot keep block on disk; submitting anyway", {
          hash: hashHex,
          height,
          dir: this.#options.dir,
          error: String(error),
        });
        return null;
      },
    );
    const result = await this.#deliver(blockHex, hashHex, height);
    const path = await kept;
    if (path !== null) await this.#mark(path, result);
    return result;
  }

  /**
   * Submits the blocks an earlier process kept without a verdict, if the chain has not moved
   * past them (`nextHeight` is the height of the current template); older ones are marked stale.
   * Runs the submissions in the background and resolves once they have been started.
   *
   * @returns the number of blocks re-submitted
   */
  async resubmitPending(nextHeight: number): Promise<number> {
    let count = 0;
    for (const block of await pendingFoundBlocks(this.#options.dir)) {
      if (block.height < nextHeight) {
        this.#log.warn("kept block found without a verdict is stale: the chain moved past it", {
          hash: block.hashHex,
          height: block.height,
          nextHeight,
        });
        await markFoundBlock(block.path, FoundBlockState.stale).catch(() => {});
        continue;
      }
      let hex: string;
      try {
        hex = await readFoundBlock(block.path);
      } catch (error: unknown) {
        this.#log.error("cannot read kept block", { path: block.path, error: String(error) });
        continue;
      }
      count++;
      this.#log.warn("re-submitting a block an earlier process found without a verdict", {
        hash: block.hashHex,
        height: block.height,
      });
      void this.#track(
        this.#deliver(hex, block.hashHex, block.height).then((r) => this.#mark(block.path, r)),
      );
    }
    return count;
  }

  /**
   * A node answers again (the pool just got a template): blocks waiting between attempts are
   * submitted now rather than after their backoff (up to 30 s, long enough for a competing block
   * to win the height).
   */
  wake(): void {
    for (const sleeper of [...this.#sleepers]) sleeper();
  }

  /** Ends retries: pending attempts resolve with their last result. */
  stop(): void {
    this.#stop.abort();
  }

  /**
   * Resolves once every submission has finished and its file has been renamed to its state, so
   * that a caller stopping the process (or removing the directory) does not race a rename.
   * Gives up after `timeoutMs` (a node that never answers must not hold a shutdown).
   */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.#inFlight.size > 0 && performance.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((r) => timer = setTimeout(r, deadline - performance.now()));
      await Promise.race([Promise.allSettled([...this.#inFlight]), late]);
      clearTimeout(timer);
    }
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    const forget = () => this.#inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  async #deliver(blockHex: string, hashHex: string, height: number): Promise<BlockSubmitResult> {
    const startedMs = performance.now();
    let delayMs = this.#options.initialRetryMs ?? 1_000;
    const maxDelayMs = this.#options.maxRetryMs ?? 30_000;
    for (let attempt = 1;; attempt++) {
      let result: BlockSubmitResult;
      try {
        result = await this.#sink(blockHex);
      } catch (error: unknown) {
        // A block the sink refuses to even send (not hex) will not get better.
        if (error instanceof TypeError) throw error;
        result = unreachable(hashHex, error);
      }
      const elapsedMs = performance.now() - startedMs;
      if (
        hasVerdict(result) || this.#stop.signal.aborted ||
        elapsedMs + delayMs > this.#options.retryWindowMs
      ) {
        if (attempt > 1 || !hasVerdict(result)) {
          this.#log[hasVerdict(result) ? "info" : "error"]("block submission ended", {
            hash: hashHex,
            height,
            attempts: attempt,
            verdict: hasVerdict(result),
            accepted: result.accepted,
          });
        }
        return result;
      }
      this.#log.warn("no node could take the block; retrying", {
        hash: hashHex,
        height,
        attempt,
        retryInMs: delayMs,
        errors: result.results.map((r) => r.error ?? null),
      });
      this.#options.onRetry?.();
      await this.#sleep(delayMs);
      delayMs = Math.min(delayMs * 2, maxDelayMs);
    }
  }

  async #mark(path: string, result: BlockSubmitResult): Promise<void> {
    const state = result.accepted
      ? FoundBlockState.accepted
      : hasVerdict(result)
      ? FoundBlockState.rejected
      : this.#stop.signal.aborted
      ? FoundBlockState.pending // the next start tries again
      : FoundBlockState.undelivered;
    try {
      await markFoundBlock(path, state);
    } catch (error: unknown) {
      this.#log.error("cannot rename kept block", { path, state, error: String(error) });
    }
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#stop.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
      this.#sleepers.add(done);
    });
  }
}
