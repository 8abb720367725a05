/**
 * `d=<difficulty>` in the authorize password: clamped as any miner-requested difficulty, pinned
 * against later suggest_difficulty, ignored (and logged) when unusable, and never written to
 * reconnect memory unless a share was accepted at it.
 */
import assert from "node:assert/strict";
import type { LogProperties, StructuredLogger } from "../log/mod.ts";
import { settle, startTestEngine, TEST_ADDRESS } from "./_test_engine.ts";

const WORKER = `${TEST_ADDRESS}.bitaxe`;
const IP = "203.0.113.10";

/** Subscribes and authorizes with `password`; returns the authorize answer. */
function authorize(
  miner: ReturnType<ReturnType<typeof startTestEngine>["connect"]>,
  password: string,
): Record<string, unknown> {
  assert.ok(Array.isArray(miner.request("mining.subscribe", ["test/1.0"]).result));
  return miner.request("mining.authorize", [WORKER, password]);
}

Deno.test("d= in the password is the starting difficulty, announced before the first job", () => {
  const pool = startTestEngine({ startdiff: 1e-6, maxdiff: 0.01 });
  const miner = pool.connect(IP);
  assert.equal(authorize(miner, "x,d=0.000005").result, true);
  assert.equal(miner.session.difficulty, 0.000005);
  const first = miner.lines.findIndex((l) => l.method === "mining.set_difficulty");
  const job = miner.lines.findIndex((l) => l.method === "mining.notify");
  assert.ok(first !== -1 && first < job);
  assert.deepEqual(miner.lines[first]!.params, [0.000005]);
  assert.equal(miner.submitShare().result, true);
});

for (
  const [name, password, expected] of [
    ["above maxdiff", "d=5000", 0.01],
    ["below mindiff", "diff=0.000000001", 1e-7],
  ] as const
) {
  Deno.test(`d= ${name} is clamped like suggest_difficulty`, () => {
    const pool = startTestEngine({ mindiff: 1e-7, startdiff: 1e-6, maxdiff: 0.01 });
    const miner = pool.connect(IP);
    assert.equal(authorize(miner, password).result, true);
    assert.equal(miner.session.difficulty, expected);
    assert.equal(miner.announcedDifficulty, expected);
  });
}

Deno.test("d= never exceeds the network difficulty when maxdiff is 0", () => {
  const pool = startTestEngine({ startdiff: 1e-6 });
  const miner = pool.connect(IP);
  authorize(miner, "d=99999999999");
  assert.equal(miner.session.difficulty, pool.engine.jobs.current!.networkDifficulty);
});

Deno.test("d= wins over a later suggest_difficulty, which is still answered", () => {
  const pool = startTestEngine({ startdiff: 1e-6, maxdiff: 0.01 });
  const miner = pool.connect(IP);
  authorize(miner, "d=0.0005");
  assert.equal(miner.request("mining.suggest_difficulty", [0.00015]).result, true);
  assert.equal(miner.session.difficulty, 0.0005);
});

Deno.test("d= wins over a suggest_difficulty sent before authorize", () => {
  const pool = startTestEngine({ startdiff: 1e-6, maxdiff: 0.01 });
  const miner = pool.connect(IP);
  assert.ok(Array.isArray(miner.request("mining.subscribe", ["test/1.0"]).result));
  miner.request("mining.suggest_difficulty", [1000]);
  assert.equal(miner.request("mining.authorize", [WORKER, "d=0.0005"]).result, true);
  assert.equal(miner.session.difficulty, 0.0005);
});

/** A logger that keeps info records (message and properties) for assertions. */
function recordingLogger(records: [string, LogProperties][]): StructuredLogger {
  const logger: StructuredLogger = {
    category: ["test"],
    trace: () => {},
    debug: () => {},
    info: (message, properties = {}) => void records.push([message, properties]),
    warn: () => {},
    error: () => {},
    fatal: () => {},
    with: () => logger,
    getChild: () => logger,
    isEnabledFor: () => true,
  };
  return logger;
}

for (
  const [password, setting] of [
    ["d=0x10", "d=0x10"],
    ["d=1e3", "d=1e3"],
    ["d=abc", "d=abc"],
    ["x,d=-1", "d=-1"],
    ["d=0", "d=0"],
  ] as const
) {
  Deno.test(`an unusable ${password} is logged and ignored: authorize succeeds at startdiff`, () => {
    const records: [string, LogProperties][] = [];
    const pool = startTestEngine({ startdiff: 1e-6, maxdiff: 0.01, log: recordingLogger(records) });
    const miner = pool.connect(IP);
    assert.equal(authorize(miner, password).result, true);
    assert.equal(miner.session.difficulty, 1e-6);
    assert.deepEqual(pool.observed.protocolErrors, [], "not a protocol error");
    assert.deepEqual(records.filter(([m]) => m === "password difficulty ignored"), [[
      "password difficulty ignored",
      { setting, user: WORKER, ip: IP, user_agent: "test/1.0" },
    ]]);
  });
}

Deno.test("a second worker's d= does not change the connection's difficulty", () => {
  const pool = startTestEngine({ startdiff: 1e-6, maxdiff: 0.01 });
  const miner = pool.connect(IP);
  authorize(miner, "d=0.0005");
  assert.equal(miner.request("mining.authorize", [`${TEST_ADDRESS}.two`, "d=0.002"]).result, true);
  assert.equal(miner.session.difficulty, 0.0005);
});

Deno.test("d= without an accepted share leaves nothing in reconnect memory", async () => {
  const pool = startTestEngine({ startdiff: 1e-6 });
  const impostor = pool.connect(IP);
  authorize(impostor, "d=99999999999");
  impostor.disconnect();
  assert.equal(await pool.memory.get(WORKER), undefined);
  const victim = pool.connect("198.51.100.20");
  victim.ready(WORKER);
  await settle();
  assert.equal(victim.session.difficulty, 1e-6);
});

Deno.test("a share accepted at a d= difficulty is what reconnect memory keeps", async () => {
  const pool = startTestEngine({ startdiff: 1e-6, maxdiff: 0.01 });
  const miner = pool.connect(IP);
  authorize(miner, "d=0.000002");
  assert.equal(miner.submitShare().result, true);
  miner.disconnect();
  assert.equal(await pool.memory.get(WORKER), 0.000002);
});

Deno.test("reconnect memory does not override d=", async () => {
  const pool = startTestEngine({ startdiff: 1e-6, maxdiff: 0.01 });
  pool.memory.set(WORKER, 0.004);
  const miner = pool.connect(IP);
  authorize(miner, "d=0.0005");
  await settle();
  assert.equal(miner.session.difficulty, 0.0005);
});
