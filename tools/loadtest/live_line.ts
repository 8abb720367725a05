/**
 * The line printed every report interval: generator progress (merged over its processes) and
 * the pools' and generator's CPU and memory over the interval.
 */
import * as hdr from "hdr-histogram-js";
import { newLatencyHistogram } from "../../tests/load/load_summary.ts";
import type { LoadProgress } from "../../tests/load/load_stats.ts";

/** The latest progress of each generator process, merged on demand. */
export class LiveProgress {
  readonly #latest = new Map<number, LoadProgress>();

  /** Records generator process `index`'s latest progress event. */
  update(index: number, progress: LoadProgress): void {
    this.#latest.set(index, progress);
  }

  /** Sums over the processes heard from so far; p99 from their merged histograms. */
  merged(): { established: number; failed: number; responsesAll: number; p99Ms: number | null } {
    let established = 0;
    let failed = 0;
    let responsesAll = 0;
    const histogram = newLatencyHistogram();
    for (const p of this.#latest.values()) {
      established += p.established;
      failed += p.failed;
      responsesAll += p.responsesAll;
      histogram.add(hdr.decodeFromCompressedBase64(p.histogram));
    }
    const p99Ms = histogram.totalCount === 0
      ? null
      : Math.round(histogram.getValueAtPercentile(99)) / 1000;
    return { established, failed, responsesAll, p99Ms };
  }
}

/** What one live line shows. */
export interface LiveFigures {
  readonly elapsedS: number;
  readonly phase: string;
  readonly established: number;
  readonly miners: number;
  readonly failed: number;
  /** Shares answered per second over the last interval. */
  readonly sharesPerS: number;
  /** p99 share RTT so far (every phase), ms. */
  readonly p99Ms: number | null;
  /** Pools' CPU over the last interval, in cores (null: a process exited). */
  readonly poolCores: number | null;
  readonly poolRssBytes: number;
  readonly poolPssBytes: number;
  /** The pools' V8 heaps, used / reserved, summed; null when a pool could not be scraped. */
  readonly poolHeap: { readonly usedBytes: number; readonly totalBytes: number } | null;
  readonly generatorCores: number | null;
  readonly generatorRssBytes: number;
}

function cores(n: number | null): string {
  return n === null ? "—" : `${n.toFixed(2)} cores`;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(0)} MB`;
}

/** One line, fixed field order so a terminal log reads as columns. */
export function formatLiveLine(f: LiveFigures): string {
  return [
    `[${f.elapsedS.toFixed(0).padStart(5)} s ${f.phase.padEnd(6)}]`,
    `conns ${f.established}/${f.miners}${f.failed > 0 ? ` (${f.failed} failed)` : ""}`,
    `answered ${f.sharesPerS.toFixed(0)}/s`,
    `p99 ${f.p99Ms === null ? "—" : `${f.p99Ms.toFixed(1)} ms`}`,
    `pools cpu ${cores(f.poolCores)} rss ${mb(f.poolRssBytes)} pss ${mb(f.poolPssBytes)} heap ${
      f.poolHeap === null ? "—" : `${mb(f.poolHeap.usedBytes)}/${mb(f.poolHeap.totalBytes)}`
    }`,
    `generator cpu ${cores(f.generatorCores)} rss ${mb(f.generatorRssBytes)}`,
  ].join(" | ");
}
