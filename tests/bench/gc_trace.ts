/**
 * Reads V8's `--trace-gc-nvp` lines from the pool's output: how much the pool allocates and how
 * long its collections pause it over a benchmark window. Allocation per response explains the
 * latency tail: every young-generation collection stops the event loop.
 */

/** One garbage collection as V8 reports it. */
export interface GcEvent {
  /** Milliseconds since the isolate started (V8's stamp on the line). */
  readonly atMs: number;
  /** "s" scavenge, "ms" minor mark-sweep, "mc" mark-compact. */
  readonly kind: string;
  readonly pauseMs: number;
  /** Bytes allocated since the previous collection. */
  readonly allocatedBytes: number;
}

/** Collections within a window. */
export interface GcSummary {
  readonly collections: number;
  /** Young-generation collections (scavenges or minor mark-sweeps). */
  readonly minor: number;
  readonly pauseSumMs: number;
  readonly pauseMedianMs: number;
  readonly pauseMaxMs: number;
  readonly allocatedBytes: number;
}

const LINE = /^\[[^\]]*\]\s+(\d+(?:\.\d+)?) ms: GC: (\{.*\})\s*$/;

/** Parses one `--trace-gc-nvp` line; null for any other line (or a truncated one). */
export function parseGcTraceLine(line: string): GcEvent | null {
  const match = LINE.exec(line);
  if (match === null) return null;
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(match[2]!);
  } catch {
    return null;
  }
  const { gc, pause, allocated } = fields;
  if (typeof gc !== "string" || typeof pause !== "number" || typeof allocated !== "number") {
    return null;
  }
  return { atMs: Number(match[1]), kind: gc, pauseMs: pause, allocatedBytes: allocated };
}

/** Sums the collections stamped within [fromMs, toMs]. */
export function summarizeGc(events: readonly GcEvent[], fromMs: number, toMs: number): GcSummary {
  const inWindow = events.filter((e) => e.atMs >= fromMs && e.atMs <= toMs);
  const pauses = inWindow.map((e) => e.pauseMs).sort((a, b) => a - b);
  return {
    collections: inWindow.length,
    minor: inWindow.filter((e) => e.kind === "s" || e.kind === "ms").length,
    pauseSumMs: pauses.reduce((a, b) => a + b, 0),
    pauseMedianMs: pauses.length === 0 ? 0 : pauses[Math.floor(pauses.length / 2)]!,
    pauseMaxMs: pauses.at(-1) ?? 0,
    allocatedBytes: inWindow.reduce((a, e) => a + e.allocatedBytes, 0),
  };
}
