/**
 * Chaos CE1 (seed Phase 5 §7.2, "kill ckpool → systemd restarts it in < 5 s"): the pool's
 * service process SIGKILLed while its events wait in the spool, under a supervisor applying
 * `infra/systemd/tbg-stratum@.service`'s restart policy (`Restart=on-failure`, `RestartSec=3`,
 * read from the unit file: `tests/support/supervised_pool.ts`). There is no systemd in this
 * container, so the supervisor is the nearest faithful stand-in: it starts the launcher again
 * `RestartSec` after an exit the policy covers, as systemd does for the unit's main process (the
 * launcher passes the killed service's status on as 137, 128 + SIGKILL).
 *
 * The pool's NATS link is cut first (the latency bridge refuses connections), so the pool
 * spools its events; the miners stop (every submit answered) and the pool has written its whole
 * buffer to the spool before the kill, so what the process held only in memory is nothing and
 * the exact check below holds. Asserted:
 * - the supervisor starts the pool again within the seed's 5 s of the kill;
 * - the new process replays the spool the killed one left ("spooled events from an earlier
 *   run"), once NATS is back;
 * - the miners reconnect and keep their difficulty: the killed process remembered it in Redis
 *   (`redis.url`) as shares earned it, and the new one hands it back before any share;
 * - nothing lost or counted twice: the full check of `tests/support/pipeline/exact_check.ts`
 *   (the pool's own counters from its restart on).
 *
 * Needs nats-server, redis-server and PostgreSQL; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DIFFICULTY_KEY_PREFIX } from "@tbg/shared/redis-memory";
import { assertPipelineExact } from "./support/pipeline/exact_check.ts";
import {
  mine,
  poolMetric,
  reconnectRigs,
  SHARE_DIFFICULTY,
  startMining,
  startStack,
  stopMining,
  waitFor,
} from "./support/pipeline/stack.ts";
import { reporter } from "./support/sim/scenario_layout.ts";

const report = reporter("ce1");
/** The seed's bound on the restart. */
const RESTART_WITHIN_MS = 5_000;
/** Suggested to the miners, so the difficulty they keep is not the pool's startdiff. */
const MINER_DIFFICULTY = SHARE_DIFFICULTY * 2;

Deno.test({
  name: "chaos CE1: pool SIGKILLed — restarted within 5 s, miners keep difficulty, spool replays",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const stack = await startStack({ natsBridge: true, supervised: true });
    const supervised = stack.supervisedPool!;
    const bridge = stack.natsBridge!;
    try {
      for (const rig of stack.rigs) await rig.client.suggestDifficulty(MINER_DIFFICULTY);
      startMining(stack);
      await mine(stack, "shares published directly", 60);
      bridge.partition({ mode: "reset" });
      await mine(stack, "shares while NATS is cut", 80);
      await waitFor(
        "the pool to spool events",
        async () => (await poolMetric(stack, "ckpool_events_spooled_total")) > 0,
      );
      await stopMining(stack.rigs);
      let spoolBytes = 0;
      await waitFor("the pool's buffer written to the spool", async (note) => {
        const buffered = await poolMetric(stack, "ckpool_event_buffer_depth");
        spoolBytes = await poolMetric(stack, "ckpool_event_spool_bytes");
        note(`buffer ${buffered}, spool ${spoolBytes} bytes`);
        return buffered === 0 && spoolBytes > 0;
      });
      const remembered = new Map<string, number>();
      for (const rig of stack.rigs) {
        const value = await stack.rc.get(`${DIFFICULTY_KEY_PREFIX}${rig.user}.${rig.worker}`);
        assert.notEqual(value, null, `${rig.worker}: difficulty remembered before the kill`);
        remembered.set(rig.worker, Number(value));
        assert.notEqual(Number(value), SHARE_DIFFICULTY, `${rig.worker}: not just startdiff`);
      }
      const baseline = {
        accepted: stack.rigs.reduce((sum, rig) => sum + rig.accepted, 0),
        rejected: stack.rigs.reduce((sum, rig) => sum + rig.rejected, 0),
        height: stack.devnet.chain.tipHeight(),
      };

      const killedAt = Date.now();
      const pid = await supervised.signalService("SIGKILL");
      await waitFor("the supervisor to start the pool again", () => supervised.runs.length >= 2);
      const [first, second] = [supervised.runs[0]!, supervised.runs[1]!];
      const respawnMs = second.spawnedAtMs - killedAt;
      assert.equal(first.exit?.code, 137, "the launcher passes the SIGKILL on (128 + 9)");
      assert.ok(
        respawnMs < RESTART_WITHIN_MS,
        `restarted ${respawnMs} ms after the kill (RestartSec ${supervised.policy.restartSecMs} ms)`,
      );
      await supervised.waitReady(1);
      await supervised.waitForLog((l) =>
        l.msg === "spooled events from an earlier run; replaying them first"
      );
      bridge.heal();

      await reconnectRigs(stack);
      for (const rig of stack.rigs) {
        await waitFor(`${rig.worker} to get its remembered difficulty back`, (note) => {
          note(`difficulty ${rig.client.difficulty}`);
          return rig.client.difficulty === remembered.get(rig.worker);
        }, 15_000);
      }
      startMining(stack);
      await mine(stack, "shares after the restart", 60);
      await stopMining(stack.rigs);
      const events = await assertPipelineExact(stack, baseline);
      report(
        `service pid ${pid} SIGKILLed; launcher exit ${first.exit?.code}; new process spawned ` +
          `${respawnMs} ms later (RestartSec ${supervised.policy.restartSecMs} ms), ready after ` +
          `${second.readyAtMs! - killedAt} ms; spool of ${spoolBytes} bytes replayed; ` +
          `difficulties kept ${JSON.stringify(Object.fromEntries(remembered))}; ` +
          `${events.size} events once each`,
      );
    } catch (error) {
      await Deno.stderr.write(new TextEncoder().encode(`${stack.logTail()}\n`));
      throw error;
    } finally {
      await stack.close();
    }
  },
});
