/**
 * What a disaster-recovery drill found, and how it is printed: the timeline, the seed's RTO/RPO
 * table with verdicts, the exactly-once audit and the miners' view. Pure formatting.
 *
 * @module
 */
import type { ExactnessReport } from "./exactly_once.ts";
import { type Measurement, type ObjectiveId, objectivesTable } from "./objectives.ts";
import type { ReplayPlan } from "./replay.ts";

/** One miner's share answers against its share events in PostgreSQL. */
export interface MinerTally {
  readonly worker: string;
  readonly region: string;
  readonly answered: number;
  readonly persisted: number;
}

/** The drill's findings. */
export interface DrillReport {
  /** Measurements for the seed's objectives. */
  readonly measured: Readonly<Partial<Record<ObjectiveId, Measurement>>>;
  /** The audit after recovery. */
  readonly exactness: ExactnessReport;
  /** The consumer re-creation. */
  readonly replay: ReplayPlan;
  /** Events PostgreSQL held when the base backup began. */
  readonly eventsAtBase: number;
  /** Events the recovered PostgreSQL held (base backup plus WAL), before the replay. */
  readonly restoredEvents: number;
  /** Events PostgreSQL held just before the loss. */
  readonly eventsAtLoss: number;
  /** Of those, events the base backup plus WAL did not bring back (JetStream replayed them). */
  readonly walLostEvents: number;
  /** Miners of the surviving pools (relays) and of the restored primary: answers = events. */
  readonly survivors: readonly MinerTally[];
  /** Miners of the lost primary: shares it answered whose events never left it. */
  readonly lostPool: readonly MinerTally[];
  /** Relay miners the pools dropped during the drill (0: served throughout). */
  readonly relayMinersDropped: number;
  /** Events each relay stored in its leaf's edge stream between the loss and the restore. */
  readonly edgeEventsDuringOutage: Readonly<Record<string, number>>;
  /** Exit codes of the services at the end. */
  readonly exitCodes: Readonly<Record<string, number | null>>;
}

/** Whether the drill passed: verdicts, exactly once, miners' answers, clean exits. */
export function drillPassed(report: DrillReport): boolean {
  return !objectivesTable(report.measured).failed && report.exactness.ok &&
    report.survivors.every((m) => m.answered === m.persisted) &&
    report.relayMinersDropped === 0 &&
    Object.values(report.exitCodes).every((code) => code === 0 || code === null);
}

/** The final summary lines. */
export function formatDrillReport(report: DrillReport, exactLines: readonly string[]): string[] {
  const lostByPool = report.lostPool.reduce((sum, m) => sum + (m.answered - m.persisted), 0);
  const survivorsOk = report.survivors.filter((m) => m.answered === m.persisted).length;
  const table = objectivesTable(report.measured);
  return [
    "",
    "== RTO / RPO against the seed (Phase 5 §6.1, §6.3) ==",
    ...table.lines,
    "",
    "== exactly once ==",
    ...exactLines,
    `PostgreSQL: ${report.eventsAtBase} events at the base backup, ${report.eventsAtLoss} at the ` +
    `loss; base backup + WAL brought back ${report.restoredEvents}; JetStream replayed the ` +
    `other ${report.walLostEvents} and the outage's events`,
    `replay: consumer restarted at stream sequence ${report.replay.start} ` +
    `(restored database held up to ${report.replay.maxHeld ?? "none"})`,
    `miners of the relays and the restored primary: ${survivorsOk} of ${report.survivors.length} ` +
    "have one share event per answer they got",
    `miners of the lost primary: ${
      report.lostPool.reduce((s, m) => s + m.answered, 0)
    } answers, ${lostByPool} ` +
    "never published (in the pool's memory or spool when it died)",
    `relay miners dropped during the drill: ${report.relayMinersDropped}; events at the edge ` +
    `during the outage: ${
      Object.entries(report.edgeEventsDuringOutage).map(([r, n]) => `${r} +${n}`).join(", ")
    }`,
    `service exit codes: ${
      Object.entries(report.exitCodes).map(([name, code]) => `${name} ${code ?? "-"}`).join(", ")
    }`,
    "",
    `drill ${drillPassed(report) ? "PASSED" : "FAILED"}`,
  ];
}
