/**
 * The miner compatibility matrix (docs/MINERS.md), replayed against a real pool and devnet node:
 * each miner's exact session opening (tests/fixtures/miners/*.json) must get work at the
 * difficulty its requests call for, a block it finds (submitted in its own submit format) must be
 * accepted and pay its address, and nothing may be answered that was sent as a notification.
 * Run with `deno task test tests/miner_replay_test.ts`.
 */
import assert from "node:assert/strict";
import {
  bitsToTarget,
  difficultyToTarget,
  hexToBytes,
  targetToBits,
  targetToDifficulty,
} from "@tbg/shared/bitcoin";
import { type Devnet, startDevnet } from "./support/devnet/mod.ts";
import { grindNonce } from "./support/miner/grind.ts";
import { regtestAddress } from "./support/addresses.ts";
import { RawStratum } from "./support/raw_stratum.ts";
import { type InProcessPool, startInProcessPool } from "./support/pool_in_process.ts";
import { buildHeader, decodeNotify, extranonce2Hex } from "./support/stratum_client/mod.ts";
import {
  fill,
  formatNonce,
  loadMinerFixtures,
  type MinerFixture,
} from "./support/miner_fixtures.ts";

/** Low enough that a block takes ~43k hashes (a fraction of a second of CPU). */
const NETWORK_DIFFICULTY = 0.00001;
/** Pool bounds chosen so a miner's request is visibly clamped: maxdiff under the network's. */
const MINDIFF = 0.0000001;
const STARTDIFF = 0.000002;
const MAXDIFF = 0.000005;
/**
 * Nonces tried for a block before giving up: about 400 expected blocks' worth, and below
 * 0x10000000, so a nonce printed without leading zeros is always shorter than 8 chars.
 */
const MAX_NONCES = 16_000_000;

const FIXTURES = loadMinerFixtures();

let devnet: Devnet | null = null;
async function getDevnet(): Promise<Devnet> {
  devnet ??= await startDevnet({
    bits: targetToBits(difficultyToTarget(NETWORK_DIFFICULTY)),
  });
  return devnet;
}

/** The difficulty the pool must announce for a miner that asked for `requested`. */
function expectedDifficulty(requested: number | null, networkDifficulty: number): number {
  if (requested === null) return STARTDIFF;
  const ceiling = Math.max(MINDIFF, Math.min(MAXDIFF, networkDifficulty));
  return Math.min(Math.max(requested, MINDIFF), ceiling);
}

/** Lines that are responses (not server notifications). */
function responses(raw: RawStratum): Record<string, unknown>[] {
  return raw.lines.filter((l) => !("method" in l));
}

/**
 * Waits (≤ 5 s each) for the answer to every request among `lines` that carries an id, in order;
 * `taken` holds answers already matched, since miners reuse ids (cpuminer-opt). Returns the
 * answers by id; asserts none is an error.
 */
async function answers(
  raw: RawStratum,
  lines: readonly string[],
  taken: Set<Record<string, unknown>>,
): Promise<Map<unknown, Record<string, unknown>>> {
  const out = new Map<unknown, Record<string, unknown>>();
  for (const line of lines) {
    const id = (JSON.parse(line) as { id?: unknown }).id;
    if (id === undefined || id === null) continue;
    const answer = await raw.waitFor((l) => l.id === id && !("method" in l) && !taken.has(l));
    taken.add(answer);
    assert.equal(answer.error, null, `${line} was refused: ${JSON.stringify(answer)}`);
    out.set(id, answer);
  }
  return out;
}

/**
 * The work in force: the last set_difficulty and the last notify after it. Waits (≤ 5 s) until
 * that difficulty is `expected`, since a notification gives no answer to wait for; returns what
 * it saw last either way, for the assertion to report.
 */
async function currentWork(
  raw: RawStratum,
  expected: number,
): Promise<{ difficulty: number | null; notify: unknown[] | null }> {
  const deadline = Date.now() + 5_000;
  let seen: { difficulty: number | null; notify: unknown[] | null } = {
    difficulty: null,
    notify: null,
  };
  while (Date.now() < deadline) {
    const lines = raw.lines;
    const at = lines.findLastIndex((l) => l.method === "mining.set_difficulty");
    const job = lines.findLastIndex((l) => l.method === "mining.notify");
    if (at !== -1 && job > at) {
      seen = {
        difficulty: (lines[at]!.params as number[])[0]!,
        notify: lines[job]!.params as unknown[],
      };
      if (seen.difficulty === expected) return seen;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return seen;
}

/** Waits (≤ 10 s) until the devnet's tip pays `scriptHex`; returns the tip hash. */
async function tipPaying(node: Devnet, scriptHex: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const tip = node.chain.tipHash();
    if (node.chain.coinbase(tip)?.outputs[0]?.scriptHex === scriptHex) return tip;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the devnet tip does not pay ${scriptHex}`);
}

interface ReplayOptions {
  /** Password instead of the fixture's. */
  readonly password?: string;
  /** Difficulty the session must end up at, instead of the one the fixture's request implies. */
  readonly expect?: (networkDifficulty: number) => number;
}

/**
 * Replays `fixture` against a fresh pool: opening, the lines sent after authorize, a block in
 * the miner's submit format, then the later lines. Asserts every step.
 */
async function replay(
  fixture: MinerFixture,
  seed: number,
  options: ReplayOptions = {},
): Promise<void> {
  const node = await getDevnet();
  const pool: InProcessPool = await startInProcessPool(node, {
    mindiff: MINDIFF,
    startdiff: STARTDIFF,
    maxdiff: MAXDIFF,
  });
  const raw = await RawStratum.open(pool.port);
  const taken = new Set<Record<string, unknown>>();
  try {
    const { address, scriptHex } = regtestAddress("p2wpkh", seed);
    const user = fixture.user.replace("{address}", address);
    const values = {
      user,
      password: options.password ?? fixture.password,
      host_port: `127.0.0.1:${pool.port}`,
    };
    const opening = fixture.opening.map((l) => fill(l, values));
    // Written back to back, as ESP-Miner does; the pool must take them strictly in order.
    await raw.send(opening.map((l) => l + "\n").join(""));
    const opened = await answers(raw, opening, taken);
    const afterAuthorize = fixture.afterAuthorize.map((l) => fill(l, values));
    if (afterAuthorize.length > 0) {
      await raw.send(afterAuthorize.map((l) => l + "\n").join(""));
      await answers(raw, afterAuthorize, taken);
    }
    const subscribeLine = opening.find((l) => l.includes('"mining.subscribe"'))!;
    const subscribeId = (JSON.parse(subscribeLine) as { id: unknown }).id;
    const subscribed = opened.get(subscribeId)!.result as [unknown, string, number];
    const configureLine = opening.find((l) => l.includes('"mining.configure"'));
    const configured = configureLine === undefined
      ? undefined
      : opened.get((JSON.parse(configureLine) as { id: unknown }).id)!.result as Record<
        string,
        unknown
      >;
    const mask = parseInt(String(configured?.["version-rolling.mask"] ?? "0"), 16) >>> 0;
    if (configured !== undefined) assert.notEqual(mask, 0, "version rolling is granted");

    const first = await raw.waitFor((l) => l.method === "mining.notify");
    const networkDifficulty = targetToDifficulty(
      bitsToTarget(decodeNotify(first.params as unknown[]).bits),
    );
    const requested = fixture.requestedTarget === null
      ? fixture.requestedDifficulty
      : targetToDifficulty(BigInt(`0x${fixture.requestedTarget}`));
    const expected = options.expect?.(networkDifficulty) ??
      expectedDifficulty(requested, networkDifficulty);
    const work = await currentWork(raw, expected);
    assert.equal(work.difficulty, expected, `${fixture.name} works at the right difficulty`);
    const job = decodeNotify(work.notify!);

    // A block, found the way this miner would: version bits rolled when granted, nonce from 0
    // up (so NerdMiner's unpadded nonce is short), extranonce2 of the announced size.
    const extranonce1 = hexToBytes(subscribed[1]);
    const en2 = extranonce2Hex(BigInt(seed), subscribed[2]);
    const rolled = mask === 0 ? 0 : (mask & -mask) >>> 0;
    const version = ((job.version & ~mask) | rolled) >>> 0;
    const header = buildHeader(job, extranonce1, hexToBytes(en2), job.ntime, version, 0);
    const nonce = grindNonce(header, bitsToTarget(job.bits), 0, MAX_NONCES);
    assert.ok(nonce !== null, `no block within ${MAX_NONCES} nonces`);
    const printedNonce = formatNonce(nonce, fixture.nonce);
    if (fixture.nonce === "hex_unpadded") assert.ok(printedNonce.length < 8, printedNonce);
    const submit = fill(fixture.submit, {
      ...values,
      id: fixture.submitId,
      job_id: job.jobId,
      extranonce2: en2,
      ntime: job.ntime.toString(16).padStart(8, "0"),
      nonce: printedNonce,
      version_bits: ((version ^ job.version) >>> 0).toString(16).padStart(8, "0"),
    });
    await raw.send(submit + "\n");
    const verdict = await raw.waitFor((l) =>
      l.id === fixture.submitId && !("method" in l) && !taken.has(l)
    );
    taken.add(verdict);
    assert.equal(verdict.result, true, `${submit} -> ${JSON.stringify(verdict)}`);
    await tipPaying(node, scriptHex);

    const later = fixture.later.map((l) => fill(l, values));
    if (later.length > 0) {
      await raw.send(later.map((l) => l + "\n").join(""));
      // Answers come in order, so once the last request with an id is answered every earlier
      // line (notifications included) has been handled.
      await answers(raw, later, taken);
      const after = await currentWork(raw, expected);
      assert.equal(after.difficulty, expected, "a keepalive keeps the work");
    }
    assert.deepEqual(
      responses(raw).filter((l) => l.id === null),
      [],
      "nothing answered with a null id",
    );
  } finally {
    raw.close();
    await pool.stop();
  }
}

function replayTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
}

Deno.test("every miner fixture names its source and its opening parses", () => {
  assert.ok(FIXTURES.length >= 10, `only ${FIXTURES.length} fixtures`);
  for (const f of FIXTURES) {
    assert.ok(f.opening.some((l) => l.includes('"mining.subscribe"')), f.name);
    assert.ok(f.opening.some((l) => l.includes('"mining.authorize"')), f.name);
  }
});

for (const [i, fixture] of FIXTURES.entries()) {
  replayTest(`${fixture.miner}: gets work at its difficulty and its block pays it`, async () => {
    await replay(fixture, 100 + i);
  });
}

function fixture(name: string): MinerFixture {
  const found = FIXTURES.find((f) => f.name === name);
  assert.ok(found, `fixture ${name}`);
  return found;
}

replayTest(
  "cgminer with x,d=0.000004: the password difficulty wins over --suggest-diff 512",
  async () => {
    await replay(fixture("cgminer_4_11"), 200, {
      password: "x,d=0.000004",
      expect: () => 0.000004,
    });
  },
);

replayTest(
  "ESP-Miner 2.15 with d=5000: clamped to maxdiff like its suggest_difficulty",
  async () => {
    await replay(fixture("esp_miner_2_15"), 201, {
      password: "d=5000",
      expect: (network) => Math.max(MINDIFF, Math.min(MAXDIFF, network)),
    });
  },
);

replayTest("NerdMiner with d=0.000003: its 30-s keepalive suggest does not move it", async () => {
  await replay(fixture("nerdminer_v2"), 202, { password: "d=0.000003", expect: () => 0.000003 });
});

replayTest("cpuminer-opt with d=0x10: ignored, authorize still succeeds at startdiff", async () => {
  await replay(fixture("cpuminer_opt"), 203, { password: "x,d=0x10", expect: () => STARTDIFF });
});

replayTest(
  "suggest_difficulty sent as notifications (no id, null id) is applied, never answered",
  async () => {
    // No surveyed miner sends one (NerdMiner's suggest carries an id in every version); JSON-RPC
    // allows it, so NerdMiner's opening is replayed with its suggests turned into notifications.
    const nerd = fixture("nerdminer_v2");
    await replay({
      ...nerd,
      name: "nerdminer_notifications",
      opening: [
        nerd.opening[0]!,
        nerd.opening[1]!,
        '{"method": "mining.suggest_difficulty", "params": [0.00015]}',
        '{"id": null, "method": "mining.suggest_difficulty", "params": ["not a number"]}',
      ],
      later: [
        '{"id": null, "method": "mining.suggest_difficulty", "params": [0.00015]}',
        '{"id": 9, "method": "mining.suggest_difficulty", "params": [0.00015]}',
      ],
    }, 204);
  },
);
