/**
 * Issue 10, finding 1: anyone may connect as `<victim address>.<worker>`, so what reconnect
 * memory keeps for a name must be backed by accepted work, and whatever a miner asks for or the
 * memory recalls stays within the pool's bounds and the network difficulty.
 */
import assert from "node:assert/strict";
import { settle, startTestEngine, TEST_ADDRESS } from "./_test_engine.ts";

const VICTIM = `${TEST_ADDRESS}.bitaxe`;
const VICTIM_IP = "203.0.113.5";
const IMPOSTOR_IP = "198.51.100.7";
const START_DIFFICULTY = 1e-6;

/** The victim connects after the impostor left: it must start at startdiff and get paid. */
async function assertVictimStartsNormally(
  pool: ReturnType<typeof startTestEngine>,
): Promise<void> {
  const victim = pool.connect(VICTIM_IP);
  victim.ready(VICTIM);
  await settle();
  assert.equal(victim.session.difficulty, START_DIFFICULTY);
  assert.equal(victim.announcedDifficulty, START_DIFFICULTY);
  const answer = victim.submitShare();
  assert.equal(answer.result, true, JSON.stringify(answer));
  assert.equal(victim.session.sharesAccepted, 1);
}

for (
  const [name, attack] of [
    ["configure minimum-difficulty 1e308", ["mining.configure", "minimum-difficulty", 1e308]],
    ["configure minimum-difficulty 1e60", ["mining.configure", "minimum-difficulty", 1e60]],
    ["suggest_difficulty 1e300", ["mining.suggest_difficulty", "", 1e300]],
    ["suggest_difficulty 1e50", ["mining.suggest_difficulty", "", 1e50]],
  ] as const
) {
  Deno.test(`an impostor's ${name} under the victim's name does not reach the victim's next connection`, async () => {
    const pool = startTestEngine({ startdiff: START_DIFFICULTY });
    const impostor = pool.connect(IMPOSTOR_IP);
    impostor.ready(VICTIM);
    const [method, , value] = attack;
    if (method === "mining.configure") {
      impostor.request(method, [["minimum-difficulty"], { "minimum-difficulty.value": value }]);
    } else {
      impostor.request(method, [value]);
    }
    impostor.disconnect();
    assert.equal(await pool.memory.get(VICTIM), undefined, "nothing earned, nothing remembered");
    await assertVictimStartsNormally(pool);
  });
}

Deno.test("a miner's requested difficulty never exceeds the network difficulty (maxdiff 0)", () => {
  const pool = startTestEngine({ startdiff: START_DIFFICULTY });
  const networkDifficulty = pool.engine.jobs.current!.networkDifficulty;
  const miner = pool.connect(IMPOSTOR_IP);
  miner.ready(VICTIM);
  miner.request("mining.suggest_difficulty", [1e50]);
  assert.equal(miner.session.difficulty, networkDifficulty);
  miner.request("mining.configure", [["minimum-difficulty"], { "minimum-difficulty.value": 1e60 }]);
  assert.equal(miner.session.difficulty, networkDifficulty);
  assert.equal(miner.announcedDifficulty, networkDifficulty);
});

Deno.test("a miner's requested difficulty stays within maxdiff and above mindiff", () => {
  const pool = startTestEngine({ mindiff: 1e-7, startdiff: START_DIFFICULTY, maxdiff: 0.001 });
  const miner = pool.connect(IMPOSTOR_IP);
  miner.ready(VICTIM);
  miner.request("mining.suggest_difficulty", [1e50]);
  assert.equal(miner.session.difficulty, 0.001);
  miner.request("mining.suggest_difficulty", [1e-12]);
  assert.equal(miner.session.difficulty, 1e-7);
});

Deno.test("an impostor with one accepted share leaves only the difficulty it mined at", async () => {
  const pool = startTestEngine({ startdiff: START_DIFFICULTY });
  const impostor = pool.connect(IMPOSTOR_IP);
  impostor.ready(VICTIM);
  assert.equal(impostor.submitShare().result, true);
  impostor.request("mining.suggest_difficulty", [1e50]);
  impostor.disconnect();
  assert.equal(await pool.memory.get(VICTIM), START_DIFFICULTY);
  await assertVictimStartsNormally(pool);
});

Deno.test("a poisoned value already in the memory is clamped when recalled", async () => {
  const pool = startTestEngine({ startdiff: START_DIFFICULTY });
  pool.memory.set(VICTIM, 1e308);
  const victim = pool.connect(VICTIM_IP);
  victim.ready(VICTIM);
  await settle();
  assert.equal(victim.session.difficulty, pool.engine.jobs.current!.networkDifficulty);
});

Deno.test("a worker that had shares accepted resumes at the difficulty it earned", async () => {
  const pool = startTestEngine({ startdiff: START_DIFFICULTY });
  const first = pool.connect(VICTIM_IP);
  first.ready(VICTIM);
  first.request("mining.suggest_difficulty", [2e-6]);
  assert.equal(first.submitShare().result, true);
  first.disconnect();
  assert.equal(await pool.memory.get(VICTIM), 2e-6);
  const second = pool.connect(VICTIM_IP);
  second.ready(VICTIM);
  await settle();
  assert.equal(second.session.difficulty, 2e-6);
  assert.equal(second.submitShare().result, true);
});

Deno.test("the difficulty a share earns is remembered at once, without waiting for a disconnect", async () => {
  const pool = startTestEngine({ startdiff: START_DIFFICULTY });
  const miner = pool.connect(VICTIM_IP);
  miner.ready(VICTIM);
  assert.equal(await pool.memory.get(VICTIM), undefined);
  assert.equal(miner.submitShare().result, true);
  assert.equal(await pool.memory.get(VICTIM), START_DIFFICULTY, "a crash now would keep it");
  miner.request("mining.suggest_difficulty", [2e-6]);
  assert.equal(miner.submitShare().result, true);
  assert.equal(await pool.memory.get(VICTIM), 2e-6);
});
