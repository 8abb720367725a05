/**
 * Dual block submission (Phase 4 §3.4): a block found at a relay goes, in parallel, to the
 * relay's own bitcoind (`submitblock`, fast, reaches the network from this region) and to the
 * primary over NATS (which submits to its full node and confirms). The block counts as accepted
 * when either path accepts it; one failing path never delays or hides the other's answer.
 *
 * @module
 */
import type { BlockSink, BlockSubmitResult, NodeBlockSubmitResult } from "@tbg/shared/bitcoind";

/** The two submission paths. */
export const SubmitPath = {
  /** The relay's own bitcoind(s). */
  local: "local",
  /** The primary, by NATS request/reply. */
  primary: "primary",
} as const;

/** One of {@link SubmitPath}. */
export type SubmitPath = typeof SubmitPath[keyof typeof SubmitPath];

/** How one path ended. */
export const SubmitOutcome = {
  accepted: "accepted",
  rejected: "rejected",
  /** The path could not be asked (node or primary unreachable, timeout). */
  error: "error",
} as const;

/** One of {@link SubmitOutcome}. */
export type SubmitOutcome = typeof SubmitOutcome[keyof typeof SubmitOutcome];

/** Something that takes a block: a template source's `submitBlock`. */
export type { BlockSink };

/** Told how each path ended and how long it took. */
export type SubmitPathListener = (path: SubmitPath, outcome: SubmitOutcome, ms: number) => void;

/** Target name of the primary path when it failed before naming its nodes. */
export const PRIMARY_TARGET = "primary";
/** Target name of the local path when it failed before naming its nodes. */
export const LOCAL_TARGET = "local";

function outcomeOf(value: BlockSubmitResult): SubmitOutcome {
  if (value.accepted) return SubmitOutcome.accepted;
  // Every node unreachable is an error of the path, not a verdict on the block.
  return value.results.some((r) => r.error === undefined)
    ? SubmitOutcome.rejected
    : SubmitOutcome.error;
}

function failure(target: string, reason: unknown): NodeBlockSubmitResult {
  return {
    url: target,
    result: null,
    error: reason instanceof Error ? reason.message : String(reason),
    tipMoved: false,
  };
}

/**
 * Submits `hex` by both paths at once and merges the answers: accepted if either path accepted,
 * results local first then primary, `tipMoved` if either saw the block become tip.
 *
 * @param hex the serialized block
 * @param blockHash its hash, display hex (used when both paths failed before answering)
 * @param local the relay's bitcoind path
 * @param primary the NATS path to the primary
 * @param listener told each path's outcome and duration
 * @param nowMs time source for durations
 */
export async function submitBothPaths(
  hex: string,
  blockHash: string,
  local: BlockSink,
  primary: BlockSink,
  listener: SubmitPathListener = () => {},
  nowMs: () => number = () => performance.now(),
): Promise<BlockSubmitResult> {
  const started = nowMs();
  const timed = async (path: SubmitPath, sink: BlockSink): Promise<BlockSubmitResult> => {
    try {
      const value = await sink(hex);
      listener(path, outcomeOf(value), nowMs() - started);
      return value;
    } catch (error) {
      listener(path, SubmitOutcome.error, nowMs() - started);
      throw error;
    }
  };
  const [localResult, primaryResult] = await Promise.allSettled([
    timed(SubmitPath.local, local),
    timed(SubmitPath.primary, primary),
  ]);
  const results: NodeBlockSubmitResult[] = [];
  let accepted = false;
  let tipMoved = false;
  let hash = blockHash;
  for (
    const [target, settled] of [
      [LOCAL_TARGET, localResult],
      [PRIMARY_TARGET, primaryResult],
    ] as const
  ) {
    if (settled.status === "rejected") {
      results.push(failure(target, settled.reason));
      continue;
    }
    results.push(...settled.value.results);
    accepted ||= settled.value.accepted;
    tipMoved ||= settled.value.tipMoved;
    hash = settled.value.blockHash || hash;
  }
  return { accepted, results, tipMoved, blockHash: hash };
}
