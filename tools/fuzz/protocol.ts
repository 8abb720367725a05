/** Messages between the fuzz CLI (main thread) and its engine (a worker). */

/** Start a campaign, or replay inputs once (no mutation) when `replay` is true. */
export interface StartMessage {
  readonly kind: "start";
  readonly target: string;
  readonly execs: number;
  /** Stop after this many seconds even if `execs` is not reached (0: no limit). */
  readonly maxSeconds: number;
  readonly seed: number;
  readonly batch: number;
  readonly slowMs: number;
  readonly maxHeapMb: number;
  readonly replay: boolean;
  readonly corpus: readonly Uint8Array[];
  /**
   * Int32 header (exec counter, current input length, stop flag) then the current input's bytes
   * (for a hang report).
   */
  readonly shared: SharedArrayBuffer;
}

/** Counters of a run so far. */
export interface FuzzStats {
  readonly target: string;
  readonly execs: number;
  readonly elapsedMs: number;
  readonly corpusSize: number;
  readonly blocksCovered: number;
  readonly blocksKnown: number;
  readonly crashes: number;
  readonly heapMb: number;
}

/** A crash: an exception the API does not document, an invariant broken, a slow input. */
export interface CrashReport {
  readonly signature: string;
  readonly kind: "exception" | "slow" | "memory";
  readonly name: string;
  readonly message: string;
  readonly stack: string;
  readonly input: Uint8Array;
}

/** Worker → main. */
export type EngineMessage =
  | { readonly kind: "status"; readonly stats: FuzzStats }
  | { readonly kind: "corpus"; readonly input: Uint8Array }
  | { readonly kind: "crash"; readonly crash: CrashReport }
  | {
    readonly kind: "done";
    readonly stats: FuzzStats;
    readonly perModule: Record<string, { covered: number; known: number }>;
  }
  | { readonly kind: "fatal"; readonly message: string };

/** Bytes of the shared buffer's Int32 header. */
export const SHARED_HEADER_BYTES = 16;
/** Index in the header of the stop flag the CLI sets. */
export const SHARED_STOP = 2;
/** Bytes of the shared buffer reserved for the current input. */
export const SHARED_INPUT_BYTES = 1 << 20;
