/**
 * Issue 10, finding 3: every request class has a per-connection budget with a disconnect, and a
 * request is never answered with more than it is worth (no fresh notify per suggestion).
 */
import assert from "node:assert/strict";
import { startTestEngine, TEST_ADDRESS, type TestMiner } from "./_test_engine.ts";

const WORKER = `${TEST_ADDRESS}.rig`;
const IP = "203.0.113.9";

/** Sends `count` copies of `line` (bounded), stopping once the engine closed the connection. */
function flood(miner: TestMiner, line: string, count: number): number {
  let sent = 0;
  while (sent < count && miner.closedReason === null) {
    miner.send(line);
    sent++;
  }
  return sent;
}

function errorsIn(miner: TestMiner): [number, string][] {
  return miner.lines.filter((l) => l.error !== undefined && l.error !== null).map((l) => {
    const [code, message] = l.error as [number, string, null];
    return [code, message];
  });
}

Deno.test("10,000 submits with a malformed extranonce2 end in a disconnect after the 100th", () => {
  const pool = startTestEngine();
  const miner = pool.connect(IP);
  miner.ready(WORKER);
  const job = pool.engine.jobs.current!;
  const bad = JSON.stringify({
    id: 7,
    method: "mining.submit",
    params: [WORKER, job.id, "00", job.ntimeHex, "00000000"],
  });
  const sent = flood(miner, bad, 10_000);
  assert.equal(sent, 101);
  assert.equal(miner.closedReason, "too many invalid requests");
  assert.deepEqual(pool.observed.rateLimited, ["max_invalid_requests_per_minute"]);
  assert.equal(errorsIn(miner).length, 101);
  assert.ok(!pool.engine.sessions.has(miner.session));
});

for (
  const [name, line] of [
    ["an unknown method", '{"id":1,"method":"mining.get_transactions","params":[]}'],
    [
      "a submit for a worker never authorized",
      JSON.stringify({
        id: 2,
        method: "mining.submit",
        params: [`${TEST_ADDRESS}.other`, "1", "0000000000000001", "6553f100", "00000000"],
      }),
    ],
    ["params that are not a list", '{"id":3,"method":"mining.subscribe","params":"x"}'],
    ["a hex suggest_difficulty", '{"id":4,"method":"mining.suggest_difficulty","params":["0x10"]}'],
  ] as const
) {
  Deno.test(`${name}, repeated, ends in a disconnect by max_invalid_requests_per_minute`, () => {
    const pool = startTestEngine();
    const miner = pool.connect(IP);
    miner.ready(WORKER);
    assert.equal(flood(miner, line, 10_000), 101);
    assert.deepEqual(pool.observed.rateLimited, ["max_invalid_requests_per_minute"]);
    assert.equal(pool.observed.protocolErrors.length, 101);
  });
}

Deno.test("submits before subscribe count as invalid requests too", () => {
  const pool = startTestEngine();
  const miner = pool.connect(IP);
  const line = JSON.stringify({
    id: 5,
    method: "mining.submit",
    params: [WORKER, "1", "0000000000000001", "6553f100", "00000000"],
  });
  assert.equal(flood(miner, line, 1_000), 101);
  assert.deepEqual(errorsIn(miner)[0], [25, "Not subscribed"]);
  assert.deepEqual(pool.observed.rateLimited, ["max_invalid_requests_per_minute"]);
});

Deno.test("50,000 suggest_difficulty end in a disconnect after the 10th", () => {
  const pool = startTestEngine();
  const miner = pool.connect(IP);
  miner.ready(WORKER);
  const line = '{"id":9,"method":"mining.suggest_difficulty","params":[0.0001]}';
  assert.equal(flood(miner, line, 50_000), 11);
  assert.deepEqual(errorsIn(miner), [[20, "Too many suggest_difficulty requests"]]);
  assert.deepEqual(pool.observed.rateLimited, ["max_suggest_difficulty_per_minute"]);
  assert.equal(miner.closedReason, "max_suggest_difficulty_per_minute exceeded");
});

Deno.test("a repeated suggest_difficulty is answered with its result only, not a new job", () => {
  const pool = startTestEngine({ rateLimits: { max_suggest_difficulty_per_minute: 1000 } });
  const miner = pool.connect(IP);
  miner.ready(WORKER);
  const line = '{"id":9,"method":"mining.suggest_difficulty","params":[0.0001]}';
  miner.send(line);
  const notifiesAfterFirst = miner.lines.filter((l) => l.method === "mining.notify").length;
  const bytesBefore = miner.sentBytes;
  flood(miner, line, 500);
  assert.equal(miner.closedReason, null);
  assert.equal(miner.lines.filter((l) => l.method === "mining.notify").length, notifiesAfterFirst);
  assert.equal(miner.lines.filter((l) => l.method === "mining.set_difficulty").length, 2);
  // Each answer is smaller than the request it answers: no amplification.
  assert.ok(miner.sentBytes - bytesBefore < 500 * line.length, `${miner.sentBytes - bytesBefore}`);
});

Deno.test("the 11th configure within a minute disconnects", () => {
  const pool = startTestEngine();
  const miner = pool.connect(IP);
  const line = JSON.stringify({
    id: 1,
    method: "mining.configure",
    params: [["version-rolling"], { "version-rolling.mask": "1fffe000" }],
  });
  assert.equal(flood(miner, line, 1_000), 11);
  assert.deepEqual(pool.observed.rateLimited, ["max_configures_per_minute"]);
});

Deno.test("lines of any kind beyond max_requests_per_minute disconnect (extranonce.subscribe, replies)", () => {
  const pool = startTestEngine();
  const miner = pool.connect(IP);
  const lines = [
    '{"id":1,"method":"mining.extranonce.subscribe","params":[]}',
    '{"id":1,"result":true,"error":null}',
  ];
  let sent = 0;
  while (sent < 10_000 && miner.closedReason === null) miner.send(lines[sent++ % 2]!);
  assert.equal(sent, 2001);
  assert.deepEqual(pool.observed.rateLimited, ["max_requests_per_minute"]);
  assert.deepEqual(errorsIn(miner), [[20, "Too many requests"]]);
});

Deno.test("an honest miner's hour (configure once, suggest every 30 s, shares) is never limited", () => {
  // Difficulties low enough that the test grinds each share in a few dozen hashes.
  const pool = startTestEngine({ mindiff: 1e-9, startdiff: 1e-8 });
  const miner = pool.connect(IP);
  miner.request("mining.configure", [["version-rolling"], { "version-rolling.mask": "1fffe000" }]);
  miner.ready(WORKER);
  for (let s = 0; s < 3600; s += 10) {
    pool.clock.advance(10_000);
    if (s % 30 === 0) miner.request("mining.suggest_difficulty", [1e-8]);
    assert.equal(miner.submitShare().result, true);
    pool.engine.tick();
  }
  assert.equal(miner.closedReason, null);
  assert.deepEqual(pool.observed.rateLimited, []);
});
