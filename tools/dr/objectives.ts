/**
 * The seed's recovery objectives (Phase 5 §6.1 RPO column, §6.3 "Recovery Time Objectives") and
 * the drill's verdict on each: what was measured against the target. Pure: measurements in, table
 * lines out.
 *
 * @module
 */

/** One row of the seed's tables. */
export interface Objective {
  /** Key of the measurement that answers it. */
  readonly id: ObjectiveId;
  /** RTO (time to restore) or RPO (data lost, as time). */
  readonly kind: "RTO" | "RPO";
  /** The seed's component name. */
  readonly component: string;
  /** The seed's target as written. */
  readonly target: string;
  /** The target in ms (the upper end of a range). */
  readonly limitMs: number;
  /** Any event lost fails the row, whatever the time. */
  readonly zeroLoss?: boolean;
}

/** Measurement keys, one per objective. */
export type ObjectiveId =
  | "rto_stratum"
  | "rto_pipeline"
  | "rto_primary"
  | "rto_bitcoin"
  | "rpo_postgres"
  | "rpo_redis"
  | "rpo_events";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** The seed's rows this drill answers, in print order. */
export const SEED_OBJECTIVES: readonly Objective[] = [
  {
    id: "rto_stratum",
    kind: "RTO",
    component: "ckpool (Stratum serving): relays independent",
    target: "< 5 min",
    limitMs: 5 * MINUTE_MS,
  },
  {
    id: "rto_pipeline",
    kind: "RTO",
    component: "Event pipeline (full): restored, gap replayed",
    target: "< 1 h",
    limitMs: HOUR_MS,
  },
  {
    id: "rto_primary",
    kind: "RTO",
    component: "Complete primary recovery: miners on it, events stored",
    target: "24–48 h",
    limitMs: 48 * HOUR_MS,
  },
  {
    id: "rto_bitcoin",
    kind: "RTO",
    component: "Bitcoin Core (full archival)",
    target: "24–48 h",
    limitMs: 48 * HOUR_MS,
  },
  {
    id: "rpo_postgres",
    kind: "RPO",
    component: "TimescaleDB/PostgreSQL (WAL archiving)",
    target: "< 1 min",
    limitMs: MINUTE_MS,
  },
  {
    id: "rpo_redis",
    kind: "RPO",
    component: "Redis (RDB snapshot)",
    target: "< 5 min",
    limitMs: 5 * MINUTE_MS,
  },
  {
    id: "rpo_events",
    kind: "RPO",
    component: "NATS JetStream: events after replay",
    target: "< 1 min",
    limitMs: MINUTE_MS,
    zeroLoss: true,
  },
];

/** What the drill measured for one objective; `ms` null when the drill does not exercise it. */
export interface Measurement {
  /** Time to restore (RTO) or span of data lost (RPO), ms; null: not drilled. */
  readonly ms: number | null;
  /** Events lost for good (for rows with `zeroLoss`). */
  readonly lostEvents?: number;
  /** What the number is, or why it was not drilled. */
  readonly detail: string;
}

/** A row's outcome. */
export type Verdict = "PASS" | "FAIL" | "not drilled";

/** The verdict of one measurement against its objective. */
export function verdict(objective: Objective, measurement: Measurement | undefined): Verdict {
  if (measurement === undefined || measurement.ms === null) return "not drilled";
  if (objective.zeroLoss === true && (measurement.lostEvents ?? 0) > 0) return "FAIL";
  return measurement.ms <= objective.limitMs ? "PASS" : "FAIL";
}

/** `1.234 s`, `2.5 min` or `1.2 h`. */
export function formatDuration(ms: number): string {
  if (ms < MINUTE_MS) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < HOUR_MS) return `${(ms / MINUTE_MS).toFixed(1)} min`;
  return `${(ms / HOUR_MS).toFixed(1)} h`;
}

/**
 * The table: one line per objective with target, measurement, verdict and detail.
 *
 * @param measured Measurements by objective id.
 * @returns The lines and whether any row failed.
 */
export function objectivesTable(
  measured: Readonly<Partial<Record<ObjectiveId, Measurement>>>,
): { lines: string[]; failed: boolean } {
  const lines = [
    `${"".padEnd(4)}${"component (seed Phase 5 §6)".padEnd(56)}${"target".padEnd(10)}${
      "measured".padEnd(11)
    }verdict`,
  ];
  let failed = false;
  for (const objective of SEED_OBJECTIVES) {
    const measurement = measured[objective.id];
    const outcome = verdict(objective, measurement);
    failed ||= outcome === "FAIL";
    const value = measurement?.ms === null || measurement === undefined
      ? "—"
      : formatDuration(measurement.ms);
    lines.push(
      `${objective.kind.padEnd(4)}${objective.component.padEnd(56)}${objective.target.padEnd(10)}${
        value.padEnd(11)
      }${outcome.padEnd(12)}${measurement?.detail ?? "not measured"}`,
    );
  }
  return { lines, failed };
}
