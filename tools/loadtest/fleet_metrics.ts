/**
 * The pools' own figures for the seed table, read from their /metrics over the measured window:
 * event emission latency (`ckpool_event_emit_latency_us`, share verdict → event handed to the
 * publisher), stale shares (`ckpool_stale_shares_total`) over shares answered
 * (`ckpool_shares_total`), summed over the pool processes.
 */
import {
  bucketDelta,
  bucketQuantile,
  type Buckets,
  histogramBuckets,
} from "../../tests/bench/metrics_text.ts";

/** Emission histogram name (microseconds). */
export const EMIT_LATENCY_METRIC = "ckpool_event_emit_latency_us";
/** In-engine submit handling (received → response written), microseconds; for diagnosis. */
export const SUBMIT_LATENCY_METRIC = "ckpool_submit_latency_us";
/** New template → mining.notify written to every miner, milliseconds; for diagnosis. */
export const NOTIFY_BROADCAST_METRIC = "ckpool_notify_broadcast_ms";

/** The V8 heap gauge, by `kind`. */
export const HEAP_METRIC = "ckpool_heap_bytes";

/** One scrape of every pool, reduced to what the table needs. */
export interface FleetScrape {
  readonly emitBuckets: Buckets;
  readonly submitBuckets: Buckets;
  readonly notifyBuckets: Buckets;
  readonly shares: number;
  readonly stale: number;
  readonly published: number;
  readonly dropped: number;
  /** The pools' V8 heaps summed (`ckpool_heap_bytes`): objects live or awaiting collection. */
  readonly heapUsedBytes: number;
  /** The pools' V8 heaps' reserved size, summed. */
  readonly heapTotalBytes: number;
}

/** Sum of a counter or gauge over all its label sets (`name{…} v` and `name v` lines). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

/** The value of the first `name{…}` line whose labels include `label` (`kind="used"`), or 0. */
function labelledValue(text: string, name: string, label: string): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) || !line.includes(label)) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    return Number.isFinite(value) ? value : 0;
  }
  return 0;
}

function addBuckets(into: Map<number, number>, from: Buckets): void {
  for (const [bound, count] of from) into.set(bound, (into.get(bound) ?? 0) + count);
}

/** Reduces the scrapes of all pools (taken together) to one {@link FleetScrape}. */
export function readFleetScrape(texts: readonly string[]): FleetScrape {
  const emit = new Map<number, number>();
  const submit = new Map<number, number>();
  const notify = new Map<number, number>();
  let shares = 0;
  let stale = 0;
  let published = 0;
  let dropped = 0;
  let heapUsedBytes = 0;
  let heapTotalBytes = 0;
  for (const text of texts) {
    addBuckets(emit, histogramBuckets(text, EMIT_LATENCY_METRIC));
    addBuckets(submit, histogramBuckets(text, SUBMIT_LATENCY_METRIC));
    addBuckets(notify, histogramBuckets(text, NOTIFY_BROADCAST_METRIC));
    shares += metricSum(text, "ckpool_shares_total");
    stale += metricSum(text, "ckpool_stale_shares_total");
    published += metricSum(text, "ckpool_events_published_total");
    dropped += metricSum(text, "ckpool_events_dropped_total");
    heapUsedBytes += labelledValue(text, HEAP_METRIC, 'kind="used"');
    heapTotalBytes += labelledValue(text, HEAP_METRIC, 'kind="total"');
  }
  const sorted = (m: Map<number, number>) => new Map([...m].sort((a, b) => a[0] - b[0]));
  return {
    emitBuckets: sorted(emit),
    submitBuckets: sorted(submit),
    notifyBuckets: sorted(notify),
    shares,
    stale,
    published,
    dropped,
    heapUsedBytes,
    heapTotalBytes,
  };
}

/** What happened between two fleet scrapes. */
export interface FleetWindow {
  /** p99 of the emissions in the window in ms, null when none. */
  readonly emissionP99Ms: number | null;
  readonly emissions: number;
  /** p99 of the pools' in-engine submit handling in ms (the rest of the RTT is queues). */
  readonly submitP99Ms: number | null;
  /** p99 of the notify broadcasts in the window in ms, and how many there were. */
  readonly notifyP99Ms: number | null;
  readonly notifies: number;
  readonly shares: number;
  readonly stale: number;
  /** Stale shares in percent of shares answered, null when none answered. */
  readonly staleRatePct: number | null;
  readonly published: number;
  readonly dropped: number;
}

/** The window between `before` and `after`. */
export function fleetWindow(before: FleetScrape, after: FleetScrape): FleetWindow {
  const emit = bucketDelta(before.emitBuckets, after.emitBuckets);
  const p99Us = bucketQuantile(emit, 0.99);
  const submitP99Us = bucketQuantile(bucketDelta(before.submitBuckets, after.submitBuckets), 0.99);
  const notify = bucketDelta(before.notifyBuckets, after.notifyBuckets);
  const shares = after.shares - before.shares;
  const stale = after.stale - before.stale;
  return {
    emissionP99Ms: p99Us === null ? null : p99Us / 1000,
    emissions: emit.get(Infinity) ?? 0,
    submitP99Ms: submitP99Us === null ? null : submitP99Us / 1000,
    notifyP99Ms: bucketQuantile(notify, 0.99),
    notifies: notify.get(Infinity) ?? 0,
    shares,
    stale,
    staleRatePct: shares > 0 ? (stale / shares) * 100 : null,
    published: after.published - before.published,
    dropped: after.dropped - before.dropped,
  };
}
