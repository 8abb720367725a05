/**
 * The disaster-recovery drill (`deno task dr:drill`, seed Phase 5 §6.3 "primary server total
 * loss") on the multi-region simulation: backups taken, the primary's pool, collector,
 * PostgreSQL and Redis killed and their data deleted, the relays serving on their own, PostgreSQL
 * recovered from the base backup plus archived WAL and Redis from its snapshot, the gap replayed
 * from JetStream, the relays back on the primary. Prints RTO and RPO against the seed's table
 * with verdicts and the exactly-once audit. Steps: `tools/dr/drill.ts`; the runbook:
 * `docs/runbooks/operations/disaster-recovery.md`.
 *
 *   deno task dr:drill [--miners-per-region 2] [--hashrate 8000] [--after-backup-s 15]
 *                      [--outage-s 10] [--archive-timeout-s 5] [--independent-after-ms 5000]
 *                      [--wal-tail-ms MS]
 *
 * `--wal-tail-ms` forces a WAL switch, waits until it is archived, and lets that many ms of
 * commits follow before the loss, so the WAL-level gap JetStream fills is known rather than left
 * to where `archive_timeout` happened to fall.
 *
 * Exit codes: 0 every verdict passed and every event ended exactly once, 1 otherwise (or a step
 * failed), 2 usage.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runDrill } from "./dr/drill.ts";
import { drillPassed, formatDrillReport } from "./dr/drill_report.ts";

const USAGE = "usage: deno task dr:drill [--miners-per-region 2] [--hashrate 8000] " +
  "[--after-backup-s 15] [--outage-s 10] [--archive-timeout-s 5] [--independent-after-ms 5000] [--wal-tail-ms MS]";

const encoder = new TextEncoder();
const say = (text: string) => Deno.stdout.writeSync(encoder.encode(`${text}\n`));

function numberOption(
  values: Record<string, unknown>,
  name: string,
  fallback: number,
  integer: boolean,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new RangeError(
      `Cannot run the drill: --${name} must be ${integer ? "an integer" : "a number"} ≥ 0, ` +
        `got ${raw}`,
    );
  }
  return value;
}

async function main(): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        "miners-per-region": { type: "string" },
        hashrate: { type: "string" },
        "after-backup-s": { type: "string" },
        "outage-s": { type: "string" },
        "archive-timeout-s": { type: "string" },
        "independent-after-ms": { type: "string" },
        "wal-tail-ms": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    });
    if (values.help) {
      say(USAGE);
      return 0;
    }
    options = {
      minersPerRegion: Math.max(1, numberOption(values, "miners-per-region", 2, true)),
      minerHashrate: Math.max(1, numberOption(values, "hashrate", 8_000, false)),
      afterBackupS: numberOption(values, "after-backup-s", 15, false),
      outageS: numberOption(values, "outage-s", 10, false),
      archiveTimeoutS: Math.max(1, numberOption(values, "archive-timeout-s", 5, true)),
      independentAfterMs: Math.max(1, numberOption(values, "independent-after-ms", 5_000, true)),
      ...(values["wal-tail-ms"] === undefined
        ? {}
        : { walTailMs: numberOption(values, "wal-tail-ms", 0, true) }),
    };
  } catch (error) {
    say(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  say("== disaster-recovery drill: primary total loss (seed Phase 5 §6.3) ==");
  try {
    const { report, exactLines } = await runDrill({ ...options, onProgress: say });
    for (const line of formatDrillReport(report, exactLines)) say(line);
    return drillPassed(report) ? 0 : 1;
  } catch (error) {
    say(`drill FAILED: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
