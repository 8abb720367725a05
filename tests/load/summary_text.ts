/**
 * A load summary as a few human-readable lines (the CLI without --json).
 */
import type { LoadSummary } from "./load_summary.ts";

/** Formats `summary` for a terminal. */
export function summaryText(summary: LoadSummary): string {
  const l = summary.latency;
  const lines = [
    `mode ${summary.mode}, ${summary.processes} process(es)`,
    `connections ${summary.connectionsEstablished}/${summary.connectionsTarget} established, ` +
    `${summary.connectionsFailed} failed${
      summary.connectionsFailed > 0 ? ` ${JSON.stringify(summary.failures)}` : ""
    }, ${summary.closedByServer} closed by server`,
    `window ${summary.windowS.toFixed(1)} s: ${summary.submitsSent} submits sent, ` +
    `${summary.responses} responses (${summary.responsesPerS.toFixed(0)}/s), ` +
    `${summary.accepted} accepted, errors ${JSON.stringify(summary.errorsByCode)}` +
    (summary.offeredPerS > 0
      ? `, offered ${summary.offeredPerS}/s, skipped ${summary.skippedSubmits}`
      : ""),
    `per-connection responses min ${summary.perConnectionResponses.min} max ${summary.perConnectionResponses.max}, ` +
    `${summary.starvedConnections} starved`,
    `latency ms: p50 ${l.p50Ms} p90 ${l.p90Ms} p99 ${l.p99Ms} p99.9 ${l.p999Ms} max ${l.maxMs} ` +
    `(n=${l.count})`,
    `generator cpu: user ${summary.cpuUserS.toFixed(2)} s, system ${
      summary.cpuSystemS.toFixed(2)
    } s`,
  ];
  for (const n of summary.notify) {
    lines.push(
      `notify ${n.jobId}${n.source === "" ? "" : ` from ${n.source}`}${
        n.clean ? " (clean)" : ""
      }: ${n.count} miners, spread ${n.spreadMs.toFixed(1)} ms`,
    );
  }
  return lines.join("\n");
}
