/**
 * Chaos CE8 (seed Phase 5 §7.2, "corrupt event socket → event emitter reconnects"): garbage bytes
 * spliced into the pool's NATS connection mid-stream, while miners submit, in each direction:
 *
 * - upstream (pool → nats-server): the server's parser meets an unknown operation or a payload
 *   not followed by CRLF, answers `-ERR` and closes the connection; a corrupted message is never
 *   stored, because the server checks the CRLF after the declared payload length before it
 *   processes a message.
 * - downstream (nats-server → pool): the client's parser throws and the client stops reading
 *   the socket but keeps it open (nats.js 3.4 only logs "reader closed"); publishes wait for
 *   acks that never come. The emitter drops a connection whose publishes failed or timed out and
 *   replays on a fresh one (before that fix it waited for two unanswered 10 s pings: 25 s here,
 *   against about 4 s now, under load average ~30).
 *
 * Either way the emitter must open a new connection (seen as a second connection through the
 * bridge) and the events must end up in JetStream, PostgreSQL and Redis exactly once: the full
 * check of `tests/support/pipeline/exact_check.ts` (miners' answers = share events = pool
 * metrics = stored rows and counters; every event id once; order kept per subject).
 *
 * The garbage holds no CR or LF, so it can never complete a protocol line by chance: wherever
 * it lands, the receiver sees a malformed stream, never a different valid one.
 *
 * Needs nats-server, redis-server and PostgreSQL; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Direction } from "./support/latency_bridge.ts";
import { assertPipelineExact } from "./support/pipeline/exact_check.ts";
import {
  answered,
  mine,
  poolMetric,
  type Stack,
  startMining,
  startStack,
  stopMining,
  waitFor,
} from "./support/pipeline/stack.ts";
import { reporter } from "./support/sim/scenario_layout.ts";

const report = reporter("ce8");
/** Longest wait for the emitter's new connection: two unanswered 10 s client pings, and slack. */
const RECONNECT_BUDGET_MS = 60_000;

/** 64 bytes with no CR (13) or LF (10); deterministic so a failure reproduces. */
function garbage(seed: number): Uint8Array {
  const out = new Uint8Array(64);
  for (let i = 0; i < out.length; i++) {
    const byte = (i * 73 + seed * 151 + 0x80) & 0xff;
    out[i] = byte === 10 || byte === 13 ? 0xff : byte;
  }
  return out;
}

/** Corrupts the pool's NATS link once in `direction` and waits for the emitter to reconnect. */
async function corruptOnce(stack: Stack, direction: Direction, seed: number): Promise<void> {
  const bridge = stack.natsBridge!;
  await mine(stack, `shares before the ${direction} corruption`, 60);
  const before = bridge.stats().accepted;
  const errorsBefore = await poolMetric(stack, "ckpool_event_publish_errors_total");
  const answeredBefore = answered(stack.rigs);
  const startedAt = Date.now();
  assert.equal(bridge.inject(direction, garbage(seed)), 1, "the pool's one NATS connection");
  await waitFor(`the emitter to reconnect after ${direction} garbage`, (note) => {
    const stats = bridge.stats();
    note(`connections accepted ${stats.accepted}, open ${stats.active}`);
    return stats.accepted > before && stats.active >= 1;
  }, RECONNECT_BUDGET_MS);
  const reconnectMs = Date.now() - startedAt;
  await mine(stack, `shares after the ${direction} corruption`, 60);
  const errors = await poolMetric(stack, "ckpool_event_publish_errors_total") - errorsBefore;
  for (const rig of stack.rigs) {
    assert.ok(!rig.client.connection.isClosed, `${rig.worker} stays connected to the pool`);
  }
  report(
    `${direction} garbage: new emitter connection after ${reconnectMs} ms; ` +
      `${errors} publish errors; ${
        answered(stack.rigs) - answeredBefore
      } shares answered meanwhile`,
  );
}

Deno.test({
  name: "chaos CE8: garbage in the pool's NATS connection — emitter reconnects, events once",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const stack = await startStack({ natsBridge: true });
    try {
      startMining(stack);
      for (const [i, direction] of (["upstream", "downstream"] as const).entries()) {
        await t.step(`${direction} corruption`, async () => {
          await corruptOnce(stack, direction, i + 1);
          await stopMining(stack.rigs);
          const events = await assertPipelineExact(stack);
          report(`${direction}: ${events.size} events once each in JetStream, PostgreSQL, Redis`);
          startMining(stack);
        });
      }
    } catch (error) {
      await Deno.stderr.write(new TextEncoder().encode(`${stack.logTail()}\n`));
      throw error;
    } finally {
      await stack.close();
    }
  },
});
