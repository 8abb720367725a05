/**
 * The simulation's live summary: one snapshot of every region (miners, shares, stale shares,
 * blocks, template latency, mode) and of the pipeline (events persisted), and its text form.
 * Pure: the simulation takes snapshots, this module only computes rates and formats.
 *
 * @module
 */

/** How a region's Stratum service is working. */
export const RegionMode = {
  /** The primary, building its own templates. */
  Primary: "primary",
  /** A relay on the primary's templates. */
  Passthrough: "passthrough",
  /** A relay on its local node's templates. */
  Independent: "independent",
  /** Its metrics endpoint does not answer. */
  Down: "down",
} as const;
/** How a region's Stratum service is working. */
export type RegionMode = typeof RegionMode[keyof typeof RegionMode];

/** One region at one instant. */
export interface RegionSnapshot {
  readonly region: string;
  readonly mode: RegionMode;
  /** Open Stratum connections. */
  readonly miners: number;
  /** Shares accepted since the service started. */
  readonly sharesAccepted: number;
  /** Shares refused since the service started. */
  readonly sharesRejected: number;
  /** Shares refused as stale since the service started. */
  readonly sharesStale: number;
  /** Accepted block_found events of the region in PostgreSQL. */
  readonly blocks: number;
  /** Relays: the last template's latency from the primary, ms. */
  readonly templateLatencyMs?: number;
  /** Relays: round-trip time to the primary, ms. */
  readonly primaryRttMs?: number;
  /** Events of the region in PostgreSQL. */
  readonly eventsPersisted: number;
}

/** The whole simulation at one instant. */
export interface SimSnapshot {
  /** Milliseconds since the simulation started. */
  readonly elapsedMs: number;
  /** Chain height of the primary's node. */
  readonly height: number;
  /** Regions, primary first. */
  readonly regions: readonly RegionSnapshot[];
  /** Events in PostgreSQL, all regions. */
  readonly eventsPersisted: number;
}

/**
 * Accepted shares per second between two snapshots of a region; a counter that went down (the
 * service restarted) counts from zero.
 */
export function shareRate(
  previous: RegionSnapshot | undefined,
  current: RegionSnapshot,
  seconds: number,
): number {
  if (!(seconds > 0)) return 0;
  const before = previous === undefined || previous.sharesAccepted > current.sharesAccepted
    ? 0
    : previous.sharesAccepted;
  return (current.sharesAccepted - before) / seconds;
}

/** Stale shares as a percentage of all shares answered (0 when none). */
export function stalePercent(region: RegionSnapshot): number {
  const answered = region.sharesAccepted + region.sharesRejected;
  return answered === 0 ? 0 : (100 * region.sharesStale) / answered;
}

function ms(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? "   -  " : `${value.toFixed(0)} ms`;
}

/**
 * The summary block printed every few seconds.
 *
 * @param current This snapshot.
 * @param previous The one before (for shares per second), if any.
 * @returns Lines without trailing newline.
 */
export function formatSnapshot(current: SimSnapshot, previous?: SimSnapshot): string[] {
  const seconds = previous === undefined
    ? current.elapsedMs / 1000
    : (current.elapsedMs - previous.elapsedMs) / 1000;
  const lines = [
    `[${(current.elapsedMs / 1000).toFixed(0).padStart(4)} s] height ${current.height}` +
    `  events persisted ${current.eventsPersisted}`,
  ];
  for (const region of current.regions) {
    const before = previous?.regions.find((r) => r.region === region.region);
    const parts = [
      `  ${region.region.padEnd(8)}`,
      region.mode.padEnd(11),
      `miners ${String(region.miners).padStart(2)}`,
      `shares/s ${shareRate(before, region, seconds).toFixed(1).padStart(5)}`,
      `stale ${stalePercent(region).toFixed(2)}%`,
      `blocks ${String(region.blocks).padStart(3)}`,
      `events ${String(region.eventsPersisted).padStart(6)}`,
    ];
    if (region.mode !== RegionMode.Primary) {
      parts.push(`template ${ms(region.templateLatencyMs)}`, `rtt ${ms(region.primaryRttMs)}`);
    }
    lines.push(parts.join("  "));
  }
  return lines;
}
