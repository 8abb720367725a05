/**
 * The whole event pipeline with real processes: devnet node → the pool (its own process, events
 * on, spool dir set) ← three support CPU miners; pool → nats-server (JetStream, provisioned by
 * `tools/nats_provision.ts`'s code) → collector → PostgreSQL and redis-server.
 *
 * One stack serves five steps, each ending with the same full check (`assertPipelineExact`):
 *
 * 1. mining until blocks are found and hundreds of shares are answered;
 * 2. pool-produced events published again, with the same `Nats-Msg-Id` (inside JetStream's
 *    2-minute window) and with another one (as after the window);
 * 3. nats-server stopped while the miners submit (the pool spools), then started again on the
 *    same port and store;
 * 4. PostgreSQL killed while the miners submit, then restarted;
 * 5. redis-server killed while the miners submit, then restarted (append-only file on).
 *
 * The stack and the full check live in `tests/support/pipeline/` (the chaos scenarios reuse them).
 * The full check compares four independent counts: what the miners saw answered (per worker,
 * accepted and rejected), what the pool counted (its Prometheus metrics) and found (the devnet's
 * chain), what JetStream holds (every event once, in order per subject), and what PostgreSQL
 * (mining_events, shares, blocks, miners) and Redis (worker counters, streams, the settled record,
 * recent blocks) hold. Every wait is bounded and says what it waited for.
 *
 * The collector runs in this process (its metrics are read directly); the pool is its own
 * process. Expect about a minute: after the NATS restart, messages the server had handed to the
 * collector just before it stopped come back only when their ack wait (30 s) runs out, which is
 * the redelivery the at-least-once design relies on.
 *
 * Run with `deno task test tests/pipeline_e2e_test.ts`. Needs the Debian packages nats-server,
 * redis-server and postgresql; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { EVENT_PIPELINE_DURABLE, MINING_EVENTS_STREAM_NAME } from "@tbg/shared/nats";
import { assertPipelineExact, readStream } from "./support/pipeline/exact_check.ts";
import { keysMatching } from "./support/redis_keys.ts";
import {
  answered,
  canConnect,
  mine,
  poolMetric,
  type Stack,
  startMining,
  startStack,
  stopMining,
  waitFor,
} from "./support/pipeline/stack.ts";

const STREAM = MINING_EVENTS_STREAM_NAME;

// --- the test ------------------------------------------------------------------------------------

Deno.test({
  name: "pool events reach PostgreSQL and Redis exactly once, through duplicates and outages",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    let stack: Stack | undefined;
    const step = async (name: string, body: (stack: Stack) => Promise<void>) => {
      const passed = await t.step(name, () => body(stack!));
      if (!passed) throw new Error(`step failed: ${name}`);
    };
    try {
      stack = await startStack();

      await step("miners find blocks; every share and block event lands once", async (stack) => {
        startMining(stack);
        await mine(stack, "300 answered shares and a block", 300, 1);
        await stopMining(stack.rigs);
        const events = await assertPipelineExact(stack);
        const blocks = [...events.values()].filter((e) => e.event === "block_found");
        assert.ok(blocks.length >= 1, "a block_found event");
      });

      await step(
        "a duplicate publish, inside and outside the window, counts once",
        async (stack) => {
          const messages = await readStream(stack);
          const picked = messages.filter((m) => m.event.event === "block_found")
            .concat(messages.filter((m) => m.event.event === "share_submitted").slice(-40))
            .concat(messages.filter((m) => m.event.event === "miner_connected"));
          const dedup = stack.collector.metrics.dedupHits;
          const [pgHits, redisHits] = [dedup.postgres.value, dedup.redis.value];
          const before = (await stack.jsm.streams.info(STREAM)).state.messages;
          for (const { subject, data, msgId } of picked) {
            const again = await stack.js.publish(subject, data, { msgID: msgId });
            assert.equal(again.duplicate, true, `JetStream drops a second ${msgId} in the window`);
          }
          assert.equal((await stack.jsm.streams.info(STREAM)).state.messages, before);
          // After the window JetStream would take the same event again; another msgID does that
          // now. By then the per-event dedup keys of the collectors before the settled record
          // would have expired (24 h): none may be needed.
          for (const key of await keysMatching(stack.rc, "tbg:dedup:*")) await stack.rc.del(key);
          for (const { subject, event, data } of picked) {
            const replayId = `${event.event_id}-replay`;
            stack.replayMsgIds.add(replayId);
            const ack = await stack.js.publish(subject, data, { msgID: replayId });
            assert.equal(ack.duplicate, false);
          }
          assert.equal(
            (await stack.jsm.streams.info(STREAM)).state.messages,
            before + picked.length,
          );
          await assertPipelineExact(stack);
          assert.equal(dedup.postgres.value - pgHits, picked.length, "PostgreSQL dedup hits");
          assert.equal(dedup.redis.value - redisHits, picked.length, "Redis dedup hits");
        },
      );

      await step(
        "nats-server stopped while miners submit: every event arrives once, in order",
        async (stack) => {
          startMining(stack);
          await mine(stack, "shares before the outage", 40);
          const spooledBefore = await poolMetric(stack, "ckpool_events_spooled_total");
          const answeredBefore = answered(stack.rigs);
          stack.nats.kill("SIGTERM");
          await waitFor("nats-server to stop", async () => !(await canConnect(stack.nats.port)));
          await mine(stack, "shares during the outage", 100, 0, 3_000);
          await waitFor("the pool to spool events", async (note) => {
            const spooled = await poolMetric(stack, "ckpool_events_spooled_total");
            note(`spooled ${spooled - spooledBefore}`);
            return spooled - spooledBefore >= 100;
          });
          const answeredDuring = answered(stack.rigs) - answeredBefore;
          await stack.nats.restart();
          await mine(stack, "shares after the outage", 40);
          await stopMining(stack.rigs);
          await assertPipelineExact(stack);
          assert.ok(answeredDuring >= 100, `${answeredDuring} shares answered during the outage`);
        },
      );

      await step(
        "PostgreSQL killed while miners submit: nothing lost, nothing doubled",
        async (stack) => {
          startMining(stack);
          await mine(stack, "shares before the outage", 40);
          stack.pg.kill("SIGKILL");
          await waitFor(
            "the collector to see PostgreSQL down",
            () => stack.collector.metrics.backendUp.postgres.value === 0,
          );
          await mine(stack, "shares during the outage", 100, 0, 3_000);
          const held = await stack.jsm.consumers.info(STREAM, EVENT_PIPELINE_DURABLE);
          assert.ok(held.num_pending + held.num_ack_pending > 0, "events wait in JetStream");
          await stack.pg.restart();
          await mine(stack, "shares after the outage", 40);
          await stopMining(stack.rigs);
          await assertPipelineExact(stack);
          assert.equal(stack.collector.metrics.backendUp.postgres.value, 1);
        },
      );

      await step(
        "redis-server killed while miners submit: nothing lost, nothing doubled",
        async (stack) => {
          startMining(stack);
          await mine(stack, "shares before the outage", 40);
          stack.redis.kill("SIGKILL");
          await waitFor(
            "the collector to see Redis down",
            () => stack.collector.metrics.backendUp.redis.value === 0,
          );
          await mine(stack, "shares during the outage", 100, 0, 3_000);
          const held = await stack.jsm.consumers.info(STREAM, EVENT_PIPELINE_DURABLE);
          assert.ok(held.num_pending + held.num_ack_pending > 0, "events wait in JetStream");
          await stack.redis.restart();
          await mine(stack, "shares after the outage", 40);
          await stopMining(stack.rigs);
          await assertPipelineExact(stack);
          assert.equal(stack.collector.metrics.backendUp.redis.value, 1);
        },
      );
    } catch (error) {
      if (stack !== undefined) {
        await Deno.stderr.write(new TextEncoder().encode(`${stack.logTail()}\n`));
      }
      throw error;
    } finally {
      await stack?.close();
    }
  },
});
