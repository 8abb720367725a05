import assert from "node:assert/strict";
import fc from "fast-check";
import { parseLine, type ParseResult } from "./parse.ts";
import { StratumErrorCode } from "./errors.ts";
import type { StratumRequest } from "./messages.ts";

const OPTIONS = { extranonce2Size: 8 };

function request(line: string): StratumRequest {
  const result = parseLine(line, OPTIONS);
  assert.equal(result.kind, "request", JSON.stringify(result));
  return (result as { request: StratumRequest }).request;
}

function error(line: string): Extract<ParseResult, { kind: "error" }> {
  const result = parseLine(line, OPTIONS);
  assert.equal(result.kind, "error", JSON.stringify(result));
  return result as Extract<ParseResult, { kind: "error" }>;
}

const submit = (params: unknown[]) => JSON.stringify({ id: 7, method: "mining.submit", params });
const GOOD = ["bc1qworker.rig1", "4a2", "00000000deadbeef", "6789abcd", "a8f3b2c1"];

Deno.test("parseLine() parses a five-param submit with numeric ntime and nonce", () => {
  const r = request(submit(GOOD));
  assert.deepEqual(r, {
    method: "mining.submit",
    id: 7,
    workerName: "bc1qworker.rig1",
    jobId: "4a2",
    extranonce2: "00000000deadbeef",
    ntime: 0x6789abcd,
    nonce: 0xa8f3b2c1,
    versionBits: null,
  });
});

Deno.test("parseLine() parses version bits as the sixth submit param", () => {
  const r = request(submit([...GOOD, "1fffe000"]));
  assert.equal(r.method === "mining.submit" && r.versionBits, 0x1fffe000);
});

for (
  const [name, params, message] of [
    [
      "nonce of 9 chars",
      [...GOOD.slice(0, 4), "a8f3b2c10"],
      "Invalid submit: nonce must be 1-8 hex chars",
    ],
    [
      "empty nonce",
      [...GOOD.slice(0, 4), ""],
      "Invalid submit: nonce must be 1-8 hex chars",
    ],
    [
      "nonce with non-hex",
      [...GOOD.slice(0, 4), "a8f3b2cz"],
      "Invalid submit: nonce must be 1-8 hex chars",
    ],
    [
      "nonce with a 0x prefix",
      [...GOOD.slice(0, 4), "0x29a10"],
      "Invalid submit: nonce must be 1-8 hex chars",
    ],
    [
      "extranonce2 of wrong length",
      [GOOD[0], GOOD[1], "00deadbeef", GOOD[3], GOOD[4]],
      "Invalid submit: extranonce2 must be 16 hex chars",
    ],
    [
      "job id over 8 chars",
      [GOOD[0], "123456789", ...GOOD.slice(2)],
      "Invalid submit: job id must be 1-8 hex chars",
    ],
    [
      "job id not hex",
      [GOOD[0], "zz", ...GOOD.slice(2)],
      "Invalid submit: job id must be 1-8 hex chars",
    ],
    [
      "ntime of 9 chars",
      [...GOOD.slice(0, 3), "6789abcd0", GOOD[4]],
      "Invalid submit: ntime must be 8 hex chars",
    ],
    [
      "version bits of 4 chars",
      [...GOOD, "1fff"],
      "Invalid submit: version bits must be 8 hex chars",
    ],
    ["four params", GOOD.slice(0, 4), "Invalid submit: expected 5 or 6 params"],
    [
      "numeric nonce",
      [...GOOD.slice(0, 4), 12345678],
      "Invalid submit: nonce must be 1-8 hex chars",
    ],
  ] as const
) {
  Deno.test(`parseLine() rejects a submit with ${name}`, () => {
    const e = error(submit([...params]));
    assert.equal(e.code, StratumErrorCode.other);
    assert.equal(e.message, message);
    assert.equal(e.fatal, false);
    assert.equal(e.id, 7);
  });
}

Deno.test("parseLine() splits username into address and worker", () => {
  const r = request('{"id":1,"method":"mining.authorize","params":["bcrt1qxyz.rig_1-a.b","x"]}');
  assert.deepEqual(r, {
    method: "mining.authorize",
    id: 1,
    address: "bcrt1qxyz",
    worker: "rig_1-a.b",
    password: "x",
    passwordDifficulty: null,
    ignoredPasswordDifficulty: null,
  });
});

Deno.test("parseLine() reads a nonce without leading zeros as NerdMiner formats it", () => {
  const r = request(submit([...GOOD.slice(0, 4), "29a10"]));
  assert.equal(r.method === "mining.submit" && r.nonce, 0x29a10);
});

for (
  const [password, difficulty, ignored] of [
    ["d=5000", 5000, null],
    ["x,d=5000", 5000, null],
    ["x, diff=0.001", 0.001, null],
    ["D=64", 64, null],
    ["d=1,d=2", 2, null],
    ["x", null, null],
    ["", null, null],
    ["pd=5", null, null],
    ["d=0x10", null, "d=0x10"],
    ["d=1e3", null, "d=1e3"],
    ["d=-5", null, "d=-5"],
    ["d=0", null, "d=0"],
    ["d= 5", null, "d= 5"],
    ["d=Infinity", null, "d=Infinity"],
    ["d=5000abc", null, "d=5000abc"],
    ["d=", null, "d="],
    ["d=5,d=junk", null, "d=junk"],
  ] as const
) {
  Deno.test(`parseLine() reads authorize password ${JSON.stringify(password)}`, () => {
    const r = request(
      JSON.stringify({ id: 4, method: "mining.authorize", params: ["bcrt1qxyz.rig", password] }),
    );
    assert.ok(r.method === "mining.authorize");
    assert.equal(r.passwordDifficulty, difficulty);
    assert.equal(r.ignoredPasswordDifficulty, ignored);
  });
}

Deno.test("parseLine() marks requests without an id or with a null id as notifications", () => {
  for (
    const line of [
      '{"method":"mining.suggest_difficulty","params":[0.00015]}',
      '{"id":null,"method":"mining.suggest_difficulty","params":[0.00015]}',
    ]
  ) {
    const r = parseLine(line, OPTIONS);
    assert.ok(r.kind === "request" && r.notification, JSON.stringify(r));
  }
  for (const id of [0, 1, '"a"']) {
    const r = parseLine(`{"id":${id},"method":"mining.suggest_difficulty","params":[1]}`, OPTIONS);
    assert.ok(r.kind === "request" && !r.notification, JSON.stringify(r));
  }
});

Deno.test("parseLine() marks a malformed notification, so its error is counted but not sent", () => {
  const r = parseLine('{"method":"mining.suggest_difficulty","params":["0x10"]}', OPTIONS);
  assert.ok(r.kind === "error" && r.notification && !r.fatal, JSON.stringify(r));
  const unknown = parseLine('{"id":null,"method":"mining.bogus","params":[]}', OPTIONS);
  assert.ok(unknown.kind === "error" && unknown.notification, JSON.stringify(unknown));
  const objectId = parseLine('{"id":{},"method":"mining.bogus","params":[]}', OPTIONS);
  assert.ok(objectId.kind === "error" && !objectId.notification, JSON.stringify(objectId));
});

Deno.test("parseLine() rejects worker names outside the validation matrix", () => {
  for (const worker of ["", "rig 1", "rig;drop", "w".repeat(129), "rig\n"]) {
    const e = error(
      JSON.stringify({ id: 2, method: "mining.authorize", params: [`bc1q.${worker}`, ""] }),
    );
    assert.match(e.message, /^Invalid authorize: worker name must be 1-128 chars/);
  }
  request(
    JSON.stringify({ id: 2, method: "mining.authorize", params: ["bc1q." + "w".repeat(128), ""] }),
  );
});

Deno.test("parseLine() rejects an address longer than 90 chars", () => {
  const e = error(
    JSON.stringify({ id: 3, method: "mining.authorize", params: ["b".repeat(91), ""] }),
  );
  assert.equal(e.message, "Invalid authorize: address must be 1-90 chars");
});

Deno.test("parseLine() accepts printable user agents up to 256 chars and rejects others", () => {
  const ok = request(
    JSON.stringify({ id: 1, method: "mining.subscribe", params: ["bitaxe/2.4.1"] }),
  );
  assert.deepEqual(ok, {
    method: "mining.subscribe",
    id: 1,
    userAgent: "bitaxe/2.4.1",
    sessionId: null,
  });
  request(JSON.stringify({ id: 1, method: "mining.subscribe", params: ["a".repeat(256)] }));
  for (const ua of ["a".repeat(257), "bad\nagent", "caf\u00e9", "\x1b[31mred"]) {
    const e = error(JSON.stringify({ id: 1, method: "mining.subscribe", params: [ua] }));
    assert.equal(
      e.message,
      "Invalid subscribe: user agent must be printable ASCII of at most 256 chars",
    );
  }
});

Deno.test("parseLine() keeps a presented session id for resume", () => {
  const r = request('{"id":1,"method":"mining.subscribe","params":["cgminer/4.12","DEADBEEF"]}');
  assert.equal(r.method === "mining.subscribe" && r.sessionId, "deadbeef");
});

Deno.test("parseLine() parses BIP310 configure with version rolling and minimum difficulty", () => {
  const r = request(
    '{"id":1,"method":"mining.configure","params":[["version-rolling","minimum-difficulty"],' +
      '{"version-rolling.mask":"ffffffff","version-rolling.min-bit-count":2,"minimum-difficulty.value":0.5}]}',
  );
  assert.deepEqual(r, {
    method: "mining.configure",
    id: 1,
    extensions: ["version-rolling", "minimum-difficulty"],
    versionRollingMask: 0xffffffff,
    versionRollingMinBitCount: 2,
    minimumDifficulty: 0.5,
  });
});

const SUGGEST_ERROR =
  "Invalid suggest_difficulty: expected a number above 0 and at most 2.70e+67 (a JSON number or a plain decimal string)";
const MINIMUM_ERROR =
  "Invalid configure: minimum-difficulty.value must be a JSON number above 0 and at most 2.70e+67";

const suggest = (param: string) =>
  `{"id":4,"method":"mining.suggest_difficulty","params":[${param}]}`;
const configureMinimum = (value: string) =>
  `{"id":5,"method":"mining.configure","params":[["minimum-difficulty"],{"minimum-difficulty.value":${value}}]}`;

Deno.test("parseLine() takes suggest_difficulty as a JSON number, fractions included", () => {
  const cases: [string, number][] = [["0.0001", 0.0001], ["16", 16], ["65536", 65536], [
    "1e3",
    1000,
  ]];
  for (const [param, want] of cases) {
    const r = request(suggest(param));
    assert.equal(r.method === "mining.suggest_difficulty" && r.difficulty, want, param);
  }
});

Deno.test("parseLine() takes cpuminer-opt's plain decimal string in suggest_difficulty", () => {
  const r = request(suggest('"16.000000"'));
  assert.equal(r.method === "mining.suggest_difficulty" && r.difficulty, 16);
  const whole = request(suggest('"512"'));
  assert.equal(whole.method === "mining.suggest_difficulty" && whole.difficulty, 512);
});

Deno.test("parseLine() refuses hex, exponent, signed, padded and non-finite difficulty strings", () => {
  for (
    const param of [
      '"0x10"',
      '"1e3"',
      '"1E300"',
      '"-16"',
      '"+16"',
      '" 16"',
      '"16 "',
      '"16."',
      '".5"',
      '"Infinity"',
      '"NaN"',
      '""',
      `"${"1".repeat(21)}"`,
    ]
  ) {
    const e = error(suggest(param));
    assert.deepEqual([e.code, e.message, e.fatal, e.id], [20, SUGGEST_ERROR, false, 4], param);
  }
});

Deno.test("parseLine() refuses zero, negative, out-of-range and non-number difficulties", () => {
  for (
    const param of [
      "0",
      "-0",
      "-1",
      "1e400",
      "-1e400",
      "2.8e67",
      "1e308",
      "null",
      "true",
      "[16]",
      "{}",
    ]
  ) {
    const e = error(suggest(param));
    assert.deepEqual([e.code, e.message], [20, SUGGEST_ERROR], param);
  }
  assert.equal(
    error('{"id":4,"method":"mining.suggest_difficulty","params":[]}').message,
    SUGGEST_ERROR,
  );
});

Deno.test("parseLine() accepts the largest difficulty a hash can meet, and no more", () => {
  const r = request(suggest(String(0xffff * 2 ** 208)));
  assert.equal(r.method === "mining.suggest_difficulty" && r.difficulty, 0xffff * 2 ** 208);
});

Deno.test("parseLine() takes configure's minimum-difficulty.value only as a positive JSON number", () => {
  const r = request(configureMinimum("0.5"));
  assert.equal(r.method === "mining.configure" && r.minimumDifficulty, 0.5);
  for (const value of ['"0x10"', '"16"', '"1e3"', "0", "-2", "1e400", "1e308", "null", "[1]"]) {
    const e = error(configureMinimum(value));
    assert.deepEqual([e.code, e.message, e.fatal, e.id], [20, MINIMUM_ERROR, false, 5], value);
  }
});

Deno.test("parseLine() answers invalid JSON with a fatal error", () => {
  const e = error('{"id":1,"method":');
  assert.equal(e.fatal, true);
  assert.equal(e.message, "Invalid JSON: line is not a JSON object");
  assert.equal(error("[1,2]").fatal, true);
});

Deno.test("parseLine() answers an unknown method without disconnecting", () => {
  const e = error('{"id":9,"method":"mining.get_transactions","params":[]}');
  assert.deepEqual([e.code, e.message, e.fatal, e.id], [
    20,
    "Unknown method: mining.get_transactions",
    false,
    9,
  ]);
});

Deno.test("parseLine() ignores client responses to server notifications", () => {
  assert.deepEqual(parseLine('{"id":5,"result":true,"error":null}', OPTIONS), { kind: "ignored" });
});

Deno.test("parseLine() never throws on arbitrary input", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc.jsonValue().map((v) => JSON.stringify({ id: 1, method: "mining.submit", params: v })),
      ),
      (line) => {
        const r = parseLine(line, OPTIONS);
        assert.ok(r.kind === "request" || r.kind === "error" || r.kind === "ignored");
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("parseLine() turns bfgminer's suggest_target into the target's difficulty", () => {
  const one = request(
    `{"id":null,"method":"mining.suggest_target","params":["00000000${"ff".repeat(28)}"]}`,
  );
  assert.ok(one.method === "mining.suggest_difficulty");
  assert.ok(Math.abs(one.difficulty - 1) < 1e-4, String(one.difficulty));
  const low = request(
    `{"id":5,"method":"mining.suggest_target","params":["0003d08fff${"ff".repeat(27)}"]}`,
  );
  assert.ok(low.method === "mining.suggest_difficulty");
  assert.ok(Math.abs(low.difficulty - 0.000004) < 1e-9, String(low.difficulty));
});

Deno.test("parseLine() refuses a suggest_target that is not a non-zero 64-hex-char target", () => {
  for (const target of ['"00"', `"${"0".repeat(64)}"`, `"${"g".repeat(64)}"`, "1", "null"]) {
    const e = error(`{"id":5,"method":"mining.suggest_target","params":[${target}]}`);
    assert.equal(e.message, "Invalid suggest_target: expected a non-zero target of 64 hex chars");
  }
});

Deno.test("parseLine() takes bfgminer's mining.capabilities", () => {
  const r = parseLine(
    '{"id":null,"method":"mining.capabilities","params":[{"notify":[],"set_difficulty":{}}]}',
    OPTIONS,
  );
  assert.ok(r.kind === "request" && r.request.method === "mining.capabilities" && r.notification);
});
