/**
 * Chaos CE6 (seed Phase 5 §7.2, "clock skew → share timestamps off, no crash"): the pool's host
 * clock an hour ahead, then an hour behind, the node's (and everything else's) right.
 *
 * The skew is real: the pool process (launcher and service) runs with libfaketime (Debian
 * `faketime`), whose LD_PRELOAD shifts `clock_gettime`; V8 reads the wall clock through it, so
 * `Date.now()` and `performance.timeOrigin` in the pool are an hour off (checked: `faketime -f
 * +1h deno eval 'console.log(new Date())'` prints an hour ahead). The devnet node, nats-server,
 * the collector, PostgreSQL and Redis keep the true time.
 *
 * Asserted for each skew:
 * - the skew is visible: `ckpool_node_clock_offset_seconds` (node minus host, from each
 *   template's curtime) reads the opposite of the skew, within two minutes;
 * - no crash, and mining goes on: shares answered, a block found and accepted by the node (the
 *   job's ntime comes from the template, so the node does not refuse it as too new or too old);
 * - the ntime rules follow the node's clock, not the host's: through the running pool, an ntime
 *   7,200 s past the job's is refused as out of range and one 6,000 s past is not (with the host
 *   an hour ahead a wall-clock bound would accept the first; an hour behind it would refuse the
 *   second), and no miner share is refused for its ntime;
 * - share timestamps are off: the events carry the host's (skewed) time;
 * - nothing lost or counted twice: the full check of `tests/support/pipeline/exact_check.ts`.
 *
 * Needs nats-server, redis-server, PostgreSQL and faketime; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertPipelineExact } from "./support/pipeline/exact_check.ts";
import {
  mine,
  poolMetric,
  type Stack,
  startMining,
  startStack,
  stopMining,
  waitFor,
} from "./support/pipeline/stack.ts";
import { RawStratum } from "./support/raw_stratum.ts";
import { regtestAddress } from "./support/addresses.ts";
import { reporter } from "./support/sim/scenario_layout.ts";

const report = reporter("ce6");
/** Slack between the measured offset and the skew: template age and curtime's 1 s resolution. */
const OFFSET_SLACK_S = 120;

/** Submits one share with the job's ntime + `aheadS` and returns the pool's error message. */
async function probeNtime(stack: Stack, aheadS: number): Promise<string | null> {
  const raw = await RawStratum.open(stack.pool.stratumPort);
  try {
    const subscribed = await raw.request(1, "mining.subscribe", ["ce6-probe/1.0"]);
    const en2Size = (subscribed.result as unknown[])[2] as number;
    const user = `${regtestAddress("p2wpkh", 90).address}.probe`;
    const auth = await raw.request(2, "mining.authorize", [user, "x"]);
    assert.equal(auth.result, true, JSON.stringify(auth));
    const notify = await raw.waitFor((l) => l.method === "mining.notify");
    const params = notify.params as string[];
    const ntime = (parseInt(params[7]!, 16) + aheadS).toString(16).padStart(8, "0");
    const answer = await raw.request(3, "mining.submit", [
      user,
      params[0],
      "00".repeat(en2Size),
      ntime,
      "00000000",
    ]);
    const error = answer.error as [number, string] | null;
    return error === null ? null : error[1];
  } finally {
    raw.close();
  }
}

async function runSkewed(skewS: number): Promise<void> {
  const spec = `${skewS >= 0 ? "+" : ""}${skewS}s`;
  const stack = await startStack({ poolFaketime: spec });
  try {
    let offset = NaN;
    await waitFor("the pool to export the node's clock offset", async (note) => {
      offset = await poolMetric(stack, "ckpool_node_clock_offset_seconds");
      note(`offset ${offset}`);
      return Math.abs(offset + skewS) <= OFFSET_SLACK_S;
    });
    startMining(stack);
    await mine(stack, `shares and a block with the pool's clock ${spec}`, 150, 1);
    await stopMining(stack.rigs);
    const events = await assertPipelineExact(stack);
    for (const rig of stack.rigs) {
      assert.equal(rig.reasons.get("ntime out of range") ?? 0, 0, `${rig.worker} ntime rejects`);
    }
    const lastShareUs = Math.max(
      ...[...events.values()].filter((e) => e.event === "share_submitted").map((e) => e.timestamp),
    );
    const eventSkewS = (lastShareUs / 1e6) - Date.now() / 1000;
    assert.ok(
      Math.abs(eventSkewS - skewS) <= OFFSET_SLACK_S,
      `share event timestamps ${eventSkewS.toFixed(0)} s off the true time, expected ~${skewS}`,
    );
    const tooFar = await probeNtime(stack, 7_200);
    const inRange = await probeNtime(stack, 6_000);
    assert.equal(tooFar, "ntime out of range", "ntime 7200 s past the job's");
    assert.notEqual(inRange, "ntime out of range", "ntime 6000 s past the job's");
    const blocks = stack.devnet.chain.tipHeight() - stack.startHeight;
    report(
      `pool clock ${spec}: offset metric ${offset} s; ${events.size} events once each; ` +
        `${blocks} blocks accepted; event timestamps ${eventSkewS.toFixed(0)} s off; ` +
        `ntime +7200 s "${tooFar}", +6000 s "${inRange}"`,
    );
  } catch (error) {
    await Deno.stderr.write(new TextEncoder().encode(`${stack.logTail()}\n`));
    throw error;
  } finally {
    await stack.close();
  }
}

Deno.test({
  name: "chaos CE6: the pool's clock ±1 h — no crash, ntime from the node, skew in a metric",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    for (const skewS of [3_600, -3_600]) {
      await t.step(`pool clock ${skewS > 0 ? "+" : ""}${skewS} s`, () => runSkewed(skewS));
    }
  },
});
