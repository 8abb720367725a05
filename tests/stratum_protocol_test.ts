/**
 * Protocol behaviour of the pool over real TCP: every row of the Phase 5 input validation matrix,
 * malformed input, ordering errors, stale/duplicate/low-difficulty/bad-ntime shares and every row
 * of the rate-limit table. Each test asserts the exact error and that the pool keeps serving
 * another client afterwards. Run with `deno task test`.
 */
import assert from "node:assert/strict";
import { difficultyToTarget } from "@tbg/shared/bitcoin";
import { type Devnet, startDevnet } from "./support/devnet/mod.ts";
import { grindNonce } from "./support/miner/grind.ts";
import { regtestAddress } from "./support/addresses.ts";
import { RawStratum } from "./support/raw_stratum.ts";
import { type InProcessPool, startInProcessPool } from "./support/pool_in_process.ts";
import { buildHeader, extranonce2Hex, StratumClient } from "./support/stratum_client/mod.ts";

const ADDRESS = regtestAddress("p2wpkh", 7).address;

/** The same address with its last (checksum) character changed to another bech32 character. */
function flipLastChar(address: string): string {
  return address.slice(0, -1) + (address.endsWith("q") ? "p" : "q");
}
/** Limits high enough that only the rule under test can trigger. */
const RELAXED = {
  connections_per_ip_per_minute: 65_535,
  max_connections_per_ip: 65_535,
  max_subscribes_per_minute: 65_535,
  max_authorizes_per_minute: 65_535,
  max_shares_per_minute: 65_535,
  max_invalid_shares_per_minute: 65_535,
  max_requests_per_minute: 65_535,
  max_invalid_requests_per_minute: 65_535,
  max_configures_per_minute: 65_535,
  max_suggest_difficulty_per_minute: 65_535,
};

let devnet: Devnet | null = null;
async function getDevnet(): Promise<Devnet> {
  // Difficulty-1 blocks: a random nonce is never a block, so verdicts are about shares only.
  devnet ??= await startDevnet({ bits: 0x1d00ffff });
  return devnet;
}

/** Runs `fn` against a fresh pool with `rateLimits` merged over RELAXED. */
async function withPool(
  rateLimits: Record<string, number>,
  fn: (pool: InProcessPool) => Promise<void>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const pool = await startInProcessPool(await getDevnet(), {
    rate_limits: { ...RELAXED, ...rateLimits },
    ...extra,
  });
  try {
    await fn(pool);
  } finally {
    await pool.stop();
  }
}

/** A fresh client subscribes, authorizes and receives a job: the pool is still serving. */
async function assertStillServing(pool: InProcessPool): Promise<void> {
  const client = await StratumClient.start({
    host: "127.0.0.1",
    port: pool.port,
    username: `${ADDRESS}.witness`,
  });
  try {
    await client.waitForJob(5_000);
  } finally {
    client.close();
  }
}

/**
 * Subscribes and authorizes a raw connection, first suggesting `difficulty` when given (asked
 * before authorizing, it is the starting difficulty, so no retarget grace applies); returns the
 * first job's id and ntime.
 */
async function ready(
  raw: RawStratum,
  username = `${ADDRESS}.rig`,
  difficulty?: number,
): Promise<{ jobId: string; ntime: string }> {
  await raw.request(1, "mining.subscribe", ["test/1.0"]);
  if (difficulty !== undefined) await raw.request(3, "mining.suggest_difficulty", [difficulty]);
  const auth = await raw.request(2, "mining.authorize", [username, "x"]);
  assert.equal(auth.result, true, JSON.stringify(auth));
  const notify = await raw.waitFor((l) => l.method === "mining.notify");
  const params = notify.params as unknown[];
  return { jobId: params[0] as string, ntime: params[7] as string };
}

/** `count` pipelined submits with distinct extranonce2 and nonce 0, ids 100, 101, … */
function randomSubmits(job: { jobId: string; ntime: string }, count: number): string {
  const lines = [];
  for (let i = 0; i < count; i++) {
    lines.push(JSON.stringify({
      id: 100 + i,
      method: "mining.submit",
      params: [
        `${ADDRESS}.rig`,
        job.jobId,
        i.toString(16).padStart(16, "0"),
        job.ntime,
        "00000000",
      ],
    }));
  }
  return lines.join("\n") + "\n";
}

function assertError(line: Record<string, unknown>, code: number, message: string | RegExp): void {
  const error = line.error as [number, string, null] | null;
  assert.ok(error !== null, `expected an error, got ${JSON.stringify(line)}`);
  assert.equal(error[0], code, JSON.stringify(line));
  if (typeof message === "string") assert.equal(error[1], message);
  else assert.match(error[1], message);
}

function protocolTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
}

// ---- Validation matrix ---------------------------------------------------------------------

const EN2 = "0000000000000001";

const SUBMIT_MATRIX: [string, (job: { jobId: string; ntime: string }) => unknown[], string][] = [
  [
    "nonce of 9 hex chars",
    (j) => [`${ADDRESS}.rig`, j.jobId, EN2, j.ntime, "a8f3b2c10"],
    "Invalid submit: nonce must be 1-8 hex chars",
  ],
  [
    "nonce with a non-hex char",
    (j) => [`${ADDRESS}.rig`, j.jobId, EN2, j.ntime, "a8f3b2cg"],
    "Invalid submit: nonce must be 1-8 hex chars",
  ],
  [
    "extranonce2 of 14 hex chars",
    (j) => [`${ADDRESS}.rig`, j.jobId, "00000000000001", j.ntime, "00000000"],
    "Invalid submit: extranonce2 must be 16 hex chars",
  ],
  [
    "extranonce2 of 18 hex chars",
    (j) => [`${ADDRESS}.rig`, j.jobId, "000000000000000001", j.ntime, "00000000"],
    "Invalid submit: extranonce2 must be 16 hex chars",
  ],
  [
    "job id of 9 chars",
    (j) => [`${ADDRESS}.rig`, "123456789", EN2, j.ntime, "00000000"],
    "Invalid submit: job id must be 1-8 hex chars",
  ],
  [
    "job id that is not hex",
    (j) => [`${ADDRESS}.rig`, "xyz", EN2, j.ntime, "00000000"],
    "Invalid submit: job id must be 1-8 hex chars",
  ],
  [
    "ntime of 7 chars",
    (j) => [`${ADDRESS}.rig`, j.jobId, EN2, "6789abc", "00000000"],
    "Invalid submit: ntime must be 8 hex chars",
  ],
  [
    "version bits of 7 chars",
    (j) => [`${ADDRESS}.rig`, j.jobId, EN2, j.ntime, "00000000", "1fffe00"],
    "Invalid submit: version bits must be 8 hex chars",
  ],
];

for (const [name, params, message] of SUBMIT_MATRIX) {
  protocolTest(
    `validation matrix: submit with ${name} is refused and the pool keeps serving`,
    async () => {
      await withPool({}, async (pool) => {
        const raw = await RawStratum.open(pool.port);
        try {
          const job = await ready(raw);
          assertError(await raw.request(10, "mining.submit", params(job)), 20, message);
          assert.equal(raw.isClosed, false);
          await assertStillServing(pool);
        } finally {
          raw.close();
        }
      });
    },
  );
}

protocolTest("validation matrix: ntime outside the template's range is refused", async () => {
  await withPool({}, async (pool) => {
    const raw = await RawStratum.open(pool.port);
    try {
      const job = await ready(raw);
      const future = (parseInt(job.ntime, 16) + 3 * 3600).toString(16).padStart(8, "0");
      assertError(
        await raw.request(10, "mining.submit", [
          `${ADDRESS}.rig`,
          job.jobId,
          EN2,
          future,
          "00000000",
        ]),
        20,
        "ntime out of range",
      );
      assertError(
        await raw.request(11, "mining.submit", [
          `${ADDRESS}.rig`,
          job.jobId,
          EN2,
          "00000001",
          "00000000",
        ]),
        20,
        "ntime out of range",
      );
      await assertStillServing(pool);
    } finally {
      raw.close();
    }
  });
});

protocolTest(
  "validation matrix: version bits outside the negotiated mask are refused",
  async () => {
    await withPool({}, async (pool) => {
      const raw = await RawStratum.open(pool.port);
      try {
        const configured = await raw.request(0, "mining.configure", [["version-rolling"], {
          "version-rolling.mask": "ffffffff",
        }]);
        assert.deepEqual(configured.result, {
          "version-rolling": true,
          "version-rolling.mask": "1fffe000",
        });
        const job = await ready(raw);
        assertError(
          await raw.request(10, "mining.submit", [
            `${ADDRESS}.rig`,
            job.jobId,
            EN2,
            job.ntime,
            "00000000",
            "00001000",
          ]),
          20,
          "Version bits outside the negotiated mask",
        );
        await assertStillServing(pool);
      } finally {
        raw.close();
      }
    });
  },
);

const AUTHORIZE_MATRIX: [string, string, number, string | RegExp][] = [
  [
    "an address with a bad bech32 checksum",
    flipLastChar(ADDRESS),
    24,
    /^Unauthorized: Cannot decode address: .*checksum/,
  ],
  [
    "a mainnet address on a regtest pool",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    24,
    /^Unauthorized: .*mainnet/,
  ],
  [
    "an address over 90 chars",
    "bcrt1q" + "q".repeat(90),
    20,
    "Invalid authorize: address must be 1-90 chars",
  ],
  [
    "a worker name with a space",
    `${ADDRESS}.rig one`,
    20,
    /^Invalid authorize: worker name must be 1-128 chars/,
  ],
  [
    "a worker name with a semicolon",
    `${ADDRESS}.rig;drop`,
    20,
    /^Invalid authorize: worker name must be 1-128 chars/,
  ],
  [
    "a worker name of 129 chars",
    `${ADDRESS}.${"w".repeat(129)}`,
    20,
    /^Invalid authorize: worker name must be 1-128 chars/,
  ],
];

for (const [name, username, code, message] of AUTHORIZE_MATRIX) {
  protocolTest(
    `validation matrix: authorize with ${name} is refused and the pool keeps serving`,
    async () => {
      await withPool({}, async (pool) => {
        const raw = await RawStratum.open(pool.port);
        try {
          await raw.request(1, "mining.subscribe", ["test/1.0"]);
          assertError(await raw.request(2, "mining.authorize", [username, "x"]), code, message);
          assert.equal(
            raw.lines.some((l) => l.method === "mining.notify"),
            false,
            "no work for an unauthorized miner",
          );
          await assertStillServing(pool);
        } finally {
          raw.close();
        }
      });
    },
  );
}

protocolTest("validation matrix: a worker name of 128 allowed chars is accepted", async () => {
  await withPool({}, async (pool) => {
    const raw = await RawStratum.open(pool.port);
    try {
      await ready(raw, `${ADDRESS}.${"a_b-c.".repeat(21)}ab`);
    } finally {
      raw.close();
    }
  });
});

for (
  const [name, ua] of [["a control character", "miner\u0007/1.0"], ["non-ASCII", "mïner/1.0"], [
    "257 chars",
    "u".repeat(257),
  ]]
) {
  protocolTest(`validation matrix: a user agent with ${name} is refused`, async () => {
    await withPool({}, async (pool) => {
      const raw = await RawStratum.open(pool.port);
      try {
        assertError(
          await raw.request(1, "mining.subscribe", [ua]),
          20,
          "Invalid subscribe: user agent must be printable ASCII of at most 256 chars",
        );
        await assertStillServing(pool);
      } finally {
        raw.close();
      }
    });
  });
}

// ---- Malformed input and ordering ----------------------------------------------------------

protocolTest(
  "malformed JSON gets an error and a disconnect; other clients are unaffected",
  async () => {
    await withPool({}, async (pool) => {
      const bystander = await RawStratum.open(pool.port);
      const raw = await RawStratum.open(pool.port);
      try {
        await ready(bystander);
        await raw.send('{"id":1,"method":"mining.subscribe","params":[\n');
        assertError(
          await raw.waitFor((l) => l.error !== undefined),
          20,
          "Invalid JSON: line is not a JSON object",
        );
        assert.equal(await raw.waitClosed(), true);
        assert.equal(
          (await bystander.request(5, "mining.suggest_difficulty", [0.001])).result,
          true,
        );
        await assertStillServing(pool);
      } finally {
        raw.close();
        bystander.close();
      }
    });
  },
);

protocolTest(
  "an oversize line gets an error and a disconnect; other clients are unaffected",
  async () => {
    await withPool({}, async (pool) => {
      const bystander = await RawStratum.open(pool.port);
      const raw = await RawStratum.open(pool.port);
      try {
        await ready(bystander);
        await raw.send(
          JSON.stringify({ id: 1, method: "mining.subscribe", params: ["x".repeat(17 * 1024)] }) +
            "\n",
        );
        assertError(
          await raw.waitFor((l) => l.error !== undefined),
          20,
          "Line too long: over 16384 bytes",
        );
        assert.equal(await raw.waitClosed(), true);
        assert.equal(
          (await bystander.request(5, "mining.suggest_difficulty", [0.001])).result,
          true,
        );
      } finally {
        raw.close();
        bystander.close();
      }
    });
  },
);

protocolTest("an unknown method gets an error and the connection stays usable", async () => {
  await withPool({}, async (pool) => {
    const raw = await RawStratum.open(pool.port);
    try {
      assertError(
        await raw.request(1, "mining.get_transactions", []),
        20,
        "Unknown method: mining.get_transactions",
      );
      await ready(raw);
    } finally {
      raw.close();
    }
  });
});

protocolTest("pipelined requests in one write are answered in order", async () => {
  await withPool({}, async (pool) => {
    const raw = await RawStratum.open(pool.port);
    try {
      await raw.send(
        [
          { id: 1, method: "mining.subscribe", params: ["pipelined/1"] },
          { id: 2, method: "mining.authorize", params: [`${ADDRESS}.p`, "x"] },
          { id: 3, method: "mining.suggest_difficulty", params: [0.5] },
        ].map((r) => JSON.stringify(r)).join("\n") + "\n",
      );
      await raw.waitFor((l) => l.id === 3);
      const ids = raw.lines.filter((l) => !("method" in l)).map((l) => l.id);
      assert.deepEqual(ids, [1, 2, 3]);
    } finally {
      raw.close();
    }
  });
});

protocolTest("submit before subscribe is refused with 25, before authorize with 24", async () => {
  await withPool({}, async (pool) => {
    const raw = await RawStratum.open(pool.port);
    try {
      assertError(
        await raw.request(1, "mining.submit", [ADDRESS, "1", EN2, "00000000", "00000000"]),
        25,
        "Not subscribed",
      );
      await raw.request(2, "mining.subscribe", []);
      assertError(
        await raw.request(3, "mining.submit", [ADDRESS, "1", EN2, "00000000", "00000000"]),
        24,
        "Unauthorized worker",
      );
      await assertStillServing(pool);
    } finally {
      raw.close();
    }
  });
});

protocolTest(
  "a reconnecting client that presents its session id gets its extranonce1 back",
  async () => {
    await withPool({}, async (pool) => {
      const first = await RawStratum.open(pool.port);
      const subscribed = await first.request(1, "mining.subscribe", ["resume/1.0"]);
      const [, extranonce1] = subscribed.result as [unknown, string, number];
      first.close();
      await first.closed;
      await new Promise((r) => setTimeout(r, 100));
      const second = await RawStratum.open(pool.port);
      try {
        const resumed = await second.request(1, "mining.subscribe", ["resume/1.0", extranonce1]);
        assert.equal((resumed.result as [unknown, string, number])[1], extranonce1);
        const other = await RawStratum.open(pool.port);
        const fresh = await other.request(1, "mining.subscribe", ["resume/1.0", extranonce1]);
        assert.notEqual(
          (fresh.result as [unknown, string, number])[1],
          extranonce1,
          "an id in use is not handed out twice",
        );
        other.close();
      } finally {
        second.close();
      }
    });
  },
);

// ---- Share verdicts ------------------------------------------------------------------------

protocolTest("unknown, duplicate and low-difficulty shares get 21, 22 and 23", async () => {
  await withPool({}, async (pool) => {
    const client = await StratumClient.start({
      host: "127.0.0.1",
      port: pool.port,
      username: `${ADDRESS}.s`,
    });
    try {
      const job = await client.waitForJob();
      // A real share at the session difficulty: accepted once, then a duplicate.
      const target = difficultyToTarget(client.difficulty);
      let nonce: number | null = null;
      let en2 = "";
      for (let counter = 1n; nonce === null && counter < 200n; counter++) {
        en2 = extranonce2Hex(counter, client.extranonce2Size);
        const en2Bytes = Uint8Array.from(en2.match(/../g)!, (b) => parseInt(b, 16));
        const header = buildHeader(job, client.extranonce1, en2Bytes, job.ntime, job.version, 0);
        nonce = grindNonce(header, target, 0, 2_000_000);
      }
      assert.ok(nonce !== null);
      const first = await client.submit(job.jobId, en2, job.ntime, nonce);
      assert.equal(first.accepted, true, JSON.stringify(first));
      const dup = await client.submit(job.jobId, en2, job.ntime, nonce);
      assert.deepEqual(dup.error, [22, "Duplicate share"]);
      // Low difficulty: far above what a random nonce reaches, on a connection that suggested the
      // difficulty before authorizing (so no retarget grace applies).
      const strict = await StratumClient.start({
        host: "127.0.0.1",
        port: pool.port,
        username: `${ADDRESS}.low`,
        suggestDifficulty: 1e9,
      });
      try {
        const strictJob = await strict.waitForJob();
        const low = await strict.submit(
          strictJob.jobId,
          extranonce2Hex(999n, 8),
          strictJob.ntime,
          12345,
        );
        assert.equal(low.error?.[0], 23, JSON.stringify(low));
        assert.match(low.error![1], /^Low difficulty share \(/);
      } finally {
        strict.close();
      }
      const unknown = await client.submit("abcdef", extranonce2Hex(1n, 8), job.ntime, 1);
      assert.deepEqual(unknown.error, [21, "Job not found"]);
      await assertStillServing(pool);
    } finally {
      client.close();
    }
  });
});

protocolTest("work on a superseded tip is refused as stale with 21", async () => {
  const easy = await startDevnet();
  const pool = await startInProcessPool(easy, { rate_limits: RELAXED });
  const client = await StratumClient.start({
    host: "127.0.0.1",
    port: pool.port,
    username: `${ADDRESS}.st`,
  });
  try {
    const job = await client.waitForJob();
    await easy.mineExternalBlock();
    const fresh = await client.waitForJob(5_000, false);
    assert.equal(fresh.cleanJobs, true);
    const stale = await client.submit(job.jobId, extranonce2Hex(5n, 8), job.ntime, 1);
    assert.deepEqual(stale.error, [21, "Stale job"]);
    await assertStillServing(pool);
  } finally {
    client.close();
    await pool.stop();
    await easy.stop();
  }
});

// ---- Difficulty memory (issue 10, finding 1) -------------------------------------------------

for (
  const [name, request] of [
    ["configure minimum-difficulty 1e60", {
      method: "mining.configure",
      params: [["minimum-difficulty"], { "minimum-difficulty.value": 1e60 }],
    }],
    ["suggest_difficulty 1e50", { method: "mining.suggest_difficulty", params: [1e50] }],
  ] as const
) {
  protocolTest(
    `an impostor's ${name} under a victim's name does not set the victim's next start`,
    async () => {
      await withPool({}, async (pool) => {
        const victimName = `${ADDRESS}.victim`;
        const impostor = await RawStratum.open(pool.port);
        await ready(impostor, victimName);
        await impostor.request(5, request.method, [...request.params]);
        impostor.close();
        await impostor.closed;
        const engine = pool.runtime.engine;
        for (let i = 0; i < 100 && engine.sessions.size > 0; i++) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(engine.sessions.size, 0, "the impostor's session ended");
        const victim = await StratumClient.start({
          host: "127.0.0.1",
          port: pool.port,
          username: victimName,
        });
        try {
          const job = await victim.waitForJob();
          // A round trip after authorize: any remembered difficulty has been applied by now.
          await victim.connection.request("mining.extranonce.subscribe", []);
          assert.equal(victim.difficulty, 0.00001, "the victim starts at startdiff");
          const target = difficultyToTarget(victim.difficulty);
          let accepted = false;
          for (let counter = 1n; !accepted && counter < 50n; counter++) {
            const en2 = extranonce2Hex(counter, victim.extranonce2Size);
            const en2Bytes = Uint8Array.from(en2.match(/../g)!, (b) => parseInt(b, 16));
            const header = buildHeader(
              job,
              victim.extranonce1,
              en2Bytes,
              job.ntime,
              job.version,
              0,
            );
            const nonce = grindNonce(header, target, 0, 2_000_000);
            if (nonce === null) continue;
            const share = await victim.submit(job.jobId, en2, job.ntime, nonce);
            assert.equal(share.accepted, true, JSON.stringify(share));
            accepted = true;
          }
          assert.ok(accepted, "the victim's share was accepted");
        } finally {
          victim.close();
        }
      });
    },
  );
}

// ---- Rate limits (Phase 5 §2.4, each with the seed's value) ---------------------------------

async function rejectedCount(pool: InProcessPool, rule: string): Promise<number> {
  const text = await pool.runtime.metrics.registry.metrics();
  const line = text.split("\n").find((l) =>
    l.startsWith("ckpool_rate_limit_rejections_total{") && l.includes(`rule="${rule}"`)
  );
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

protocolTest("rate limit: the 11th new connection from one IP within 60 s is refused", async () => {
  await withPool({ connections_per_ip_per_minute: 10 }, async (pool) => {
    for (let i = 0; i < 10; i++) {
      const raw = await RawStratum.open(pool.port);
      await raw.request(1, "mining.subscribe", []);
      raw.close();
    }
    const refused = await RawStratum.open(pool.port);
    assert.equal(await refused.waitClosed(), true, "11th connection is closed at once");
    assert.equal(refused.lines.length, 0);
    assert.equal(await rejectedCount(pool, "connections_per_ip_per_minute"), 1);
  });
});

protocolTest("rate limit: the 51st concurrent connection from one IP is refused", async () => {
  await withPool({ max_connections_per_ip: 50 }, async (pool) => {
    const open: RawStratum[] = [];
    try {
      for (let i = 0; i < 50; i++) open.push(await RawStratum.open(pool.port));
      await Promise.all(open.map((r, i) => r.request(i, "mining.subscribe", [])));
      const refused = await RawStratum.open(pool.port);
      assert.equal(await refused.waitClosed(), true);
      assert.equal(await rejectedCount(pool, "max_connections_per_ip"), 1);
      open.pop()!.close();
      await new Promise((r) => setTimeout(r, 100));
      const again = await RawStratum.open(pool.port);
      open.push(again);
      assert.ok(
        Array.isArray((await again.request(1, "mining.subscribe", [])).result),
        "a slot frees on disconnect",
      );
    } finally {
      for (const r of open) r.close();
    }
  });
});

protocolTest("rate limit: the 4th subscribe on a connection within 60 s disconnects", async () => {
  await withPool({ max_subscribes_per_minute: 3 }, async (pool) => {
    const raw = await RawStratum.open(pool.port);
    for (let i = 1; i <= 3; i++) {
      assert.ok(Array.isArray((await raw.request(i, "mining.subscribe", [])).result));
    }
    assertError(await raw.request(4, "mining.subscribe", []), 20, "Too many subscribe requests");
    assert.equal(await raw.waitClosed(), true);
    assert.equal(await rejectedCount(pool, "max_subscribes_per_minute"), 1);
    await assertStillServing(pool);
  });
});

protocolTest("rate limit: the 6th authorize on a connection within 60 s disconnects", async () => {
  await withPool({ max_authorizes_per_minute: 5 }, async (pool) => {
    const raw = await RawStratum.open(pool.port);
    await raw.request(1, "mining.subscribe", []);
    for (let i = 1; i <= 5; i++) {
      assert.equal(
        (await raw.request(10 + i, "mining.authorize", [`${ADDRESS}.w${i}`, "x"])).result,
        true,
      );
    }
    assertError(
      await raw.request(20, "mining.authorize", [`${ADDRESS}.w6`, "x"]),
      20,
      "Too many authorize requests",
    );
    assert.equal(await raw.waitClosed(), true);
    assert.equal(await rejectedCount(pool, "max_authorizes_per_minute"), 1);
    await assertStillServing(pool);
  });
});

protocolTest(
  "rate limit: the 1001st submit within 60 s is refused (soft ban) without a disconnect",
  async () => {
    await withPool({ max_shares_per_minute: 1000 }, async (pool) => {
      const raw = await RawStratum.open(pool.port);
      try {
        const job = await ready(raw, `${ADDRESS}.rig`, 1e9);
        await raw.send(randomSubmits(job, 1001));
        const last = await raw.waitFor((l) => l.id === 1100, 20_000);
        assertError(last, 20, "Too many submits: temporarily banned");
        const thousandth = raw.lines.find((l) => l.id === 1099)!;
        assertError(thousandth, 23, /^Low difficulty share/);
        assert.equal(raw.isClosed, false);
        assert.equal(await rejectedCount(pool, "max_shares_per_minute"), 1);
        await assertStillServing(pool);
      } finally {
        raw.close();
      }
    });
  },
);

protocolTest("rate limit: the 101st invalid share within 60 s disconnects", async () => {
  await withPool({ max_invalid_shares_per_minute: 100 }, async (pool) => {
    const raw = await RawStratum.open(pool.port);
    const job = await ready(raw, `${ADDRESS}.rig`, 1e9);
    await raw.send(randomSubmits(job, 101));
    assert.equal(await raw.waitClosed(10_000), true);
    assert.equal(await rejectedCount(pool, "max_invalid_shares_per_minute"), 1);
    await assertStillServing(pool);
  });
});

/** Sends `count` copies of a request line in one write. */
function repeated(request: Record<string, unknown>, count: number): string {
  return (JSON.stringify(request) + "\n").repeat(count);
}

protocolTest(
  "rate limit: the 101st request answered with a protocol error within 60 s disconnects",
  async () => {
    await withPool({ max_invalid_requests_per_minute: 100 }, async (pool) => {
      const raw = await RawStratum.open(pool.port);
      const job = await ready(raw);
      // A malformed extranonce2: a parse error, answered but never validated as a share.
      await raw.send(repeated({
        id: 9,
        method: "mining.submit",
        params: [`${ADDRESS}.rig`, job.jobId, "00", job.ntime, "00000000"],
      }, 10_000));
      assert.equal(await raw.waitClosed(10_000), true);
      // Closing on unread input resets the socket, which may drop the last answers in flight.
      assert.ok(raw.lines.filter((l) => l.id === 9).length <= 101);
      assert.equal(await rejectedCount(pool, "max_invalid_requests_per_minute"), 1);
      await assertStillServing(pool);
    });
  },
);

protocolTest("rate limit: the 11th suggest_difficulty within 60 s disconnects", async () => {
  await withPool({ max_suggest_difficulty_per_minute: 10 }, async (pool) => {
    const raw = await RawStratum.open(pool.port);
    await ready(raw);
    await raw.send(
      repeated({ id: 9, method: "mining.suggest_difficulty", params: [0.001] }, 50_000),
    );
    assert.equal(await raw.waitClosed(10_000), true);
    assert.ok(raw.lines.filter((l) => l.id === 9).length <= 11);
    // Only the first suggestion changed the difficulty, so only it brought a job.
    assert.ok(raw.lines.filter((l) => l.method === "mining.notify").length <= 2);
    assert.equal(await rejectedCount(pool, "max_suggest_difficulty_per_minute"), 1);
    await assertStillServing(pool);
  });
});

protocolTest("rate limit: the 11th configure within 60 s disconnects", async () => {
  await withPool({ max_configures_per_minute: 10 }, async (pool) => {
    const raw = await RawStratum.open(pool.port);
    await raw.send(repeated({
      id: 9,
      method: "mining.configure",
      params: [["version-rolling"], { "version-rolling.mask": "1fffe000" }],
    }, 1_000));
    assert.equal(await raw.waitClosed(10_000), true);
    assert.ok(raw.lines.filter((l) => l.id === 9).length <= 11);
    assert.equal(await rejectedCount(pool, "max_configures_per_minute"), 1);
  });
});

protocolTest("rate limit: the 2001st line of any kind within 60 s disconnects", async () => {
  await withPool({ max_requests_per_minute: 2000, max_shares_per_minute: 1000 }, async (pool) => {
    const raw = await RawStratum.open(pool.port);
    await raw.send(
      repeated({ id: 9, method: "mining.extranonce.subscribe", params: [] }, 5_000),
    );
    assert.equal(await raw.waitClosed(10_000), true);
    assert.ok(raw.lines.filter((l) => l.id === 9).length <= 2001);
    assert.equal(await rejectedCount(pool, "max_requests_per_minute"), 1);
  });
});

protocolTest("rate limit: connections beyond maxclients are refused", async () => {
  await withPool({}, async (pool) => {
    const open: RawStratum[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const r = await RawStratum.open(pool.port);
        await r.request(1, "mining.subscribe", []);
        open.push(r);
      }
      const refused = await RawStratum.open(pool.port);
      assert.equal(await refused.waitClosed(), true);
      assert.equal(await rejectedCount(pool, "maxclients"), 1);
    } finally {
      for (const r of open) r.close();
    }
  }, { maxclients: 5 });
});

Deno.test({
  name: "protocol tests: stop the shared devnet",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await devnet?.stop();
    devnet = null;
  },
});
