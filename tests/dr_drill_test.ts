/**
 * The disaster-recovery drill (`deno task dr:drill`, `tools/dr/drill.ts`) at its smallest: the
 * primary and one relay region (US-East), one miner each, the loss 1 s after the backups plus a
 * forced WAL switch and 2 s of commits after it, the restore as soon as the relay serves on its
 * own. Asserted: every published event ends in PostgreSQL exactly once and each event type's Redis
 * Stream matches; the recovered database holds more than the base backup (archived WAL was
 * replayed) and less than at the loss (the WAL gap JetStream filled); the consumer restarts no
 * later than right after the restored database's last sequence and below what it had
 * acknowledged; every RTO/RPO row the drill exercises is measured and printed with a verdict; relay
 * miners were never dropped and their events went to the edge stream; the miners of the relay and
 * of the restored primary have one share event per answer.
 *
 * The verdicts' targets are the seed's minutes and hours; the figures of a full-size run are the
 * task's (docs/runbooks/operations/disaster-recovery.md). Needs nats-server, redis-server,
 * redis-tools, PostgreSQL and openssl; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runDrill } from "../tools/dr/drill.ts";
import { drillPassed, formatDrillReport } from "../tools/dr/drill_report.ts";
import { SEED_OBJECTIVES } from "../tools/dr/objectives.ts";
import { reporter, SCENARIO_RELAYS } from "./support/sim/scenario_layout.ts";

const report = reporter("dr");

Deno.test({
  name: "dr:drill — primary total loss: restored from base backup + WAL and snapshot, " +
    "gap replayed from JetStream, every event once",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const started = Date.now();
    const { report: drill, exactLines } = await runDrill({
      // One relay region: the drill's logic is per relay, and one fewer leaf, node, relay and
      // miner keeps the test short on two shared cores.
      relays: [SCENARIO_RELAYS[0]!],
      minersPerRegion: 1,
      warmupEvents: 10,
      afterBackupS: 1,
      outageS: 0,
      // The production archive_timeout: the forced switch below is the last archived segment.
      archiveTimeoutS: 60,
      walTailMs: 2_000,
      independentAfterMs: 3_000,
      onProgress: report,
    });
    const lines = formatDrillReport(drill, exactLines);
    for (const line of lines) report(line);

    const exact = drill.exactness;
    assert.equal(exact.missing.length, 0, "published events missing from PostgreSQL");
    assert.equal(exact.extra.length, 0, "events in PostgreSQL never published");
    assert.equal(exact.duplicates, 0, "an event stored twice");
    assert.deepEqual(exact.redisMismatches, [], "Redis Streams vs PostgreSQL");
    assert.ok(exact.ok);
    assert.ok(exact.published > drill.eventsAtLoss, "mining went on through the outage");

    assert.ok(
      drill.restoredEvents > drill.eventsAtBase,
      `WAL replay added events after the base backup (${drill.eventsAtBase} → ${drill.restoredEvents})`,
    );
    assert.ok(drill.walLostEvents > 0, "commits after the last archived segment were lost");
    assert.equal(drill.walLostEvents, drill.eventsAtLoss - drill.restoredEvents);
    assert.ok(
      drill.replay.ackFloor !== null && drill.replay.start <= drill.replay.ackFloor,
      "the consumer restarts below what it had acknowledged before the loss",
    );
    // Right after the restored database's last sequence, or at a hole below it (never later).
    assert.ok(drill.replay.maxHeld !== null && drill.replay.start <= drill.replay.maxHeld + 1);

    for (const objective of SEED_OBJECTIVES) {
      const measurement = drill.measured[objective.id];
      assert.ok(measurement !== undefined, `${objective.id} measured`);
      if (objective.id === "rto_bitcoin") {
        assert.equal(measurement.ms, null);
        continue;
      }
      assert.ok(
        measurement.ms !== null && Number.isFinite(measurement.ms) && measurement.ms >= 0,
        `${objective.id}: ${measurement.ms}`,
      );
      const row = lines.find((line) =>
        line.startsWith(objective.kind) &&
        line.includes(objective.component)
      );
      assert.match(row ?? "", /(PASS|FAIL) {2,}\S/, `${objective.id} printed with a verdict`);
    }
    assert.equal(drill.relayMinersDropped, 0);
    for (const [region, stored] of Object.entries(drill.edgeEventsDuringOutage)) {
      assert.ok(stored > 0, `${region}: events stored at the edge while the primary was lost`);
    }
    for (const miner of drill.survivors) {
      assert.equal(miner.persisted, miner.answered, `${miner.worker}: share events vs answers`);
    }
    assert.ok(
      drill.survivors.some((m) => m.region === "eu"),
      "miners mined on the restored primary",
    );
    assert.ok(drillPassed(drill), lines.join("\n"));
    report(`drill test took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
});
