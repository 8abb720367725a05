/**
 * JSON-RPC notifications from miners (no `id`, or `"id": null`): what they ask for happens, but
 * nothing is written back for them, not even an error; malformed ones still spend the
 * connection's invalid-request budget.
 */
import assert from "node:assert/strict";
import { startTestEngine, TEST_ADDRESS } from "./_test_engine.ts";

const WORKER = `${TEST_ADDRESS}.nerdminer`;
const IP = "203.0.113.9";

/** Responses (lines that are not server notifications) among `lines`. */
function responses(lines: Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((l) => !("method" in l));
}

for (
  const [name, line] of [
    ["without an id", '{"method":"mining.suggest_difficulty","params":[0.00015]}'],
    ["with a null id", '{"id":null,"method":"mining.suggest_difficulty","params":[0.00015]}'],
  ] as const
) {
  Deno.test(`a suggest_difficulty notification ${name} is applied and not answered`, () => {
    const pool = startTestEngine({ startdiff: 1e-6, maxdiff: 0.01 });
    const miner = pool.connect(IP);
    miner.ready(WORKER);
    const before = miner.lines.length;
    miner.send(line);
    const after = miner.lines.slice(before);
    assert.deepEqual(responses(after), [], JSON.stringify(after));
    assert.equal(miner.session.difficulty, 0.00015);
    assert.equal(miner.announcedDifficulty, 0.00015);
    assert.ok(after.some((l) => l.method === "mining.notify"), "the job is re-sent at once");
  });
}

Deno.test("a submit sent as a notification is validated and counted but not answered", () => {
  const pool = startTestEngine();
  const miner = pool.connect(IP);
  miner.ready(WORKER);
  const before = miner.lines.length;
  miner.send(
    JSON.stringify({
      method: "mining.submit",
      params: [WORKER, pool.engine.jobs.current!.id, "00".repeat(8), "00000000", "00000000"],
    }),
  );
  assert.deepEqual(responses(miner.lines.slice(before)), []);
  assert.equal(miner.session.sharesRejected, 1, "the bad ntime share was still judged");
});

Deno.test("malformed notifications get no error line but spend the invalid-request budget", () => {
  const pool = startTestEngine({ rateLimits: { max_invalid_requests_per_minute: 3 } });
  const miner = pool.connect(IP);
  miner.ready(WORKER);
  const before = miner.lines.length;
  for (let i = 0; i < 3; i++) {
    miner.send('{"method":"mining.suggest_difficulty","params":["0x10"]}');
    assert.equal(miner.closedReason, null);
  }
  miner.send('{"id":null,"method":"mining.bogus","params":[]}');
  assert.deepEqual(responses(miner.lines.slice(before)), [], "no error was written");
  assert.equal(miner.closedReason, "too many invalid requests");
  assert.deepEqual(pool.observed.protocolErrors, [
    "invalid_request",
    "invalid_request",
    "invalid_request",
    "invalid_request",
  ]);
});

Deno.test("a request with an id is still answered after a notification", () => {
  const pool = startTestEngine();
  const miner = pool.connect(IP);
  miner.ready(WORKER);
  miner.send('{"method":"mining.suggest_difficulty","params":[0.001]}');
  assert.equal(miner.request("mining.suggest_difficulty", [0.002]).result, true);
});
