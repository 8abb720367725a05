import assert from "node:assert/strict";
import { startTestEngine, TEST_ADDRESS } from "./_test_engine.ts";

/** Another valid regtest P2WPKH address (tests/support/addresses.ts, regtestAddress seed 7). */
const OTHER_ADDRESS = "bcrt1qsh9vx7mcslzh6237xpnnmvlqut9pr57uww8rs2";

function submitAs(
  miner: ReturnType<ReturnType<typeof startTestEngine>["connect"]>,
  worker: string,
  engine: ReturnType<typeof startTestEngine>["engine"],
) {
  const job = engine.jobs.current!;
  return miner.request("mining.submit", [worker, job.id, "00".repeat(8), job.ntimeHex, "00000000"]);
}

Deno.test("workers after the first on a connection are authorized, found by name and paid to the first", () => {
  const { engine, connect } = startTestEngine();
  const miner = connect("10.0.0.1");
  miner.ready(`${TEST_ADDRESS}.rig1`);
  assert.equal(miner.request("mining.authorize", [`${TEST_ADDRESS}.rig2`, "x"]).result, true);
  // Authorizing a name again is answered true without a second entry.
  assert.equal(miner.request("mining.authorize", [`${TEST_ADDRESS}.rig2`, "x"]).result, true);
  const session = miner.session;
  assert.equal(session.worker(`${TEST_ADDRESS}.rig1`), session.payout);
  assert.equal(session.worker(`${TEST_ADDRESS}.rig2`)?.worker, "rig2");
  assert.equal(session.worker(`${TEST_ADDRESS}.rig3`), undefined);
  assert.equal(session.payout?.worker, "rig1");

  // A submit as either worker reaches validation (a low-difficulty share, not "Unauthorized").
  for (const worker of ["rig1", "rig2"]) {
    const answer = submitAs(miner, `${TEST_ADDRESS}.${worker}`, engine);
    assert.notDeepEqual((answer.error as unknown[] | null)?.[0], 24, JSON.stringify(answer));
  }
  const unknown = submitAs(miner, `${TEST_ADDRESS}.rig3`, engine);
  assert.equal((unknown.error as unknown[])[0], 24);
  assert.equal((unknown.error as unknown[])[1], "Unauthorized worker");
});

Deno.test("a second payout address on one connection is refused and not added", () => {
  const { connect } = startTestEngine();
  const miner = connect("10.0.0.2");
  miner.ready(TEST_ADDRESS);
  const answer = miner.request("mining.authorize", [`${OTHER_ADDRESS}.rig`, "x"]);
  assert.equal((answer.error as unknown[])[0], 24);
  assert.match(String((answer.error as unknown[])[1]), /second payout address/);
  assert.equal(miner.session.worker(`${OTHER_ADDRESS}.rig`), undefined);
  assert.equal(miner.session.worker(TEST_ADDRESS), miner.session.payout);
});

Deno.test("worker() finds nothing before the first authorize", () => {
  const { connect } = startTestEngine();
  const miner = connect("10.0.0.3");
  assert.equal(miner.session.worker(TEST_ADDRESS), undefined);
});
