/**
 * The `reject_reason` of a `block_found` that no node accepted: every target's answer, not only
 * the first. A relay submits by two paths; when its own node is down, the first answer is only
 * "connection refused" and the primary's verdict (`high-hash`, `bad-prevblk`, …) is what tells an
 * operator why a block was lost.
 *
 * @module
 */
import { EVENT_LIMITS } from "../events/limits.ts";

/** One submission target's answer: `null` when it accepted, else its verdict or error. */
export interface TargetAnswer {
  readonly target: string;
  readonly result: string | null;
}

/**
 * Joins the targets' answers as `target: answer; target: answer`, cut to the event's limit.
 *
 * @returns the reason, or `undefined` when no target gave one
 */
export function blockRejectReason(
  results: readonly TargetAnswer[],
  maxLength: number = EVENT_LIMITS.maxReasonLength,
): string | undefined {
  const answers = results.filter((r) => r.result !== null).map((r) => `${r.target}: ${r.result}`);
  if (answers.length === 0) return undefined;
  const text = answers.join("; ");
  return text.length <= maxLength ? text : `${text.slice(0, maxLength - 1)}…`;
}
