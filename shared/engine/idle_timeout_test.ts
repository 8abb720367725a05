/**
 * Issue 10, finding 4: an authorized connection that sends nothing is closed after `dropidle`
 * seconds; one that sends shares or keepalives, however slowly within that time, is not. All on
 * a manual clock.
 */
import assert from "node:assert/strict";
import { startTestEngine, TEST_ADDRESS, type TestMiner } from "./_test_engine.ts";

const WORKER = `${TEST_ADDRESS}.rig`;
const HOUR_MS = 3_600_000;

/** Advances the clock second by second up to `ms`, ticking the engine as the runtime does. */
function runFor(pool: ReturnType<typeof startTestEngine>, ms: number, each?: () => void): void {
  for (let t = 0; t < ms; t += 1000) {
    pool.clock.advance(1000);
    each?.();
    pool.engine.tick();
  }
}

function readyMiner(pool: ReturnType<typeof startTestEngine>): TestMiner {
  const miner = pool.connect("203.0.113.20");
  miner.ready(WORKER);
  return miner;
}

Deno.test("an authorized connection that sends nothing is closed after dropidle, not before", () => {
  const pool = startTestEngine({ engine: { idleTimeoutMs: HOUR_MS } });
  const miner = readyMiner(pool);
  runFor(pool, HOUR_MS - 1000);
  assert.equal(miner.closedReason, null);
  assert.ok(pool.engine.sessions.has(miner.session));
  runFor(pool, 1000);
  assert.equal(miner.closedReason, "idle timeout");
  assert.ok(!pool.engine.sessions.has(miner.session));
  assert.deepEqual(pool.observed.rateLimited, ["dropidle"]);
});

Deno.test("NerdMiner's suggest_difficulty every 30 s keeps a connection without shares open", () => {
  const pool = startTestEngine({ engine: { idleTimeoutMs: HOUR_MS } });
  const miner = readyMiner(pool);
  let seconds = 0;
  runFor(pool, 24 * HOUR_MS, () => {
    if (++seconds % 30 === 0) miner.request("mining.suggest_difficulty", [1e-6]);
  });
  assert.equal(miner.closedReason, null);
  assert.deepEqual(pool.observed.rateLimited, []);
});

Deno.test("a slow miner with a share every 50 minutes is never closed as idle", () => {
  const pool = startTestEngine({ engine: { idleTimeoutMs: HOUR_MS } });
  const miner = readyMiner(pool);
  for (let i = 0; i < 24; i++) {
    runFor(pool, 50 * 60_000);
    assert.equal(miner.closedReason, null, `after ${(i + 1) * 50} minutes`);
    assert.equal(miner.submitShare().result, true);
  }
  assert.deepEqual(pool.observed.rateLimited, []);
});

Deno.test("the idle time counts from the last line, whatever it was", () => {
  const pool = startTestEngine({ engine: { idleTimeoutMs: HOUR_MS } });
  const miner = readyMiner(pool);
  runFor(pool, HOUR_MS - 10_000);
  miner.send('{"id":1,"method":"mining.extranonce.subscribe","params":[]}');
  runFor(pool, HOUR_MS - 10_000);
  assert.equal(miner.closedReason, null);
  runFor(pool, 10_000);
  assert.equal(miner.closedReason, "idle timeout");
});

Deno.test("dropidle 0 never closes a silent authorized connection", () => {
  const pool = startTestEngine({ engine: { idleTimeoutMs: 0 } });
  const miner = readyMiner(pool);
  pool.clock.advance(7 * 24 * HOUR_MS);
  pool.engine.tick();
  assert.equal(miner.closedReason, null);
});

Deno.test("a connection that never authorizes still goes at the authorize timeout", () => {
  const pool = startTestEngine({ engine: { idleTimeoutMs: HOUR_MS } });
  const miner = pool.connect("203.0.113.21");
  miner.request("mining.subscribe", []);
  runFor(pool, 61_000);
  assert.equal(miner.closedReason, "authorize timeout");
  assert.deepEqual(pool.observed.rateLimited, []);
});
