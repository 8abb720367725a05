/**
 * Session openings of real miners (tests/fixtures/miners/*.json): the exact lines each one writes,
 * taken from its public source, with placeholders for what only the session can supply. Loaded
 * and checked here; replayed by tests/miner_replay_test.ts.
 *
 * Placeholders: `{user}`, `{password}`, `{host_port}` in opening lines; in the submit template
 * also `{id}`, `{job_id}`, `{extranonce2}`, `{ntime}`, `{nonce}`, `{version_bits}`. `{user}` is
 * the fixture's `user` with `{address}` replaced by the test's payout address.
 *
 * @module
 */

/** How a miner prints the nonce of a submit. */
export type NonceFormat = "hex8" | "hex_unpadded";

/** One miner's opening, as stored. */
export interface MinerFixture {
  /** File name without `.json`. */
  readonly name: string;
  readonly miner: string;
  readonly firmware: string;
  readonly sources: readonly string[];
  readonly notes: readonly string[];
  /** Username template: `{address}` plus the worker suffix this miner's users typically set. */
  readonly user: string;
  readonly password: string;
  /** Lines written at connect, in order, without waiting for answers. */
  readonly opening: readonly string[];
  /** Lines the miner writes once the authorize answer arrived. */
  readonly afterAuthorize: readonly string[];
  /** Lines written later in the session (keepalives), after work arrived. */
  readonly later: readonly string[];
  /** The submit line template. */
  readonly submit: string;
  /** The id the miner gives its first submit. */
  readonly submitId: number;
  readonly nonce: NonceFormat;
  /** What the miner asks for with suggest_difficulty (null: nothing). */
  readonly requestedDifficulty: number | null;
  /** What it asks for with mining.suggest_target, 64 hex chars (null or absent: nothing). */
  readonly requestedTarget: string | null;
}

const FIXTURE_DIR = new URL("../fixtures/miners/", import.meta.url);

/** Reads every fixture, sorted by name; throws TypeError naming the file for a malformed one. */
export function loadMinerFixtures(): MinerFixture[] {
  const fixtures: MinerFixture[] = [];
  for (const entry of Deno.readDirSync(FIXTURE_DIR)) {
    if (!entry.isFile || !entry.name.endsWith(".json")) continue;
    const text = Deno.readTextFileSync(new URL(entry.name, FIXTURE_DIR));
    fixtures.push(checkFixture(entry.name.slice(0, -5), JSON.parse(text)));
  }
  return fixtures.sort((a, b) => a.name.localeCompare(b.name));
}

/** Fills `{key}` placeholders; throws when one is left unfilled. */
export function fill(template: string, values: Readonly<Record<string, string | number>>): string {
  const out = template.replace(/\{([a-z_0-9]+)\}/g, (whole, key: string) => {
    const value = values[key];
    return value === undefined ? whole : String(value);
  });
  const left = /\{[a-z_0-9]+\}/.exec(out);
  if (left !== null) throw new RangeError(`Cannot fill template: ${left[0]} has no value`);
  return out;
}

/** The nonce as this miner prints it. */
export function formatNonce(nonce: number, format: NonceFormat): string {
  const hex = (nonce >>> 0).toString(16);
  return format === "hex8" ? hex.padStart(8, "0") : hex;
}

function checkFixture(name: string, value: unknown): MinerFixture {
  const fail = (what: string): never => {
    throw new TypeError(`Cannot load miner fixture ${name}.json: ${what}`);
  };
  if (typeof value !== "object" || value === null) return fail("not an object");
  const v = value as Record<string, unknown>;
  const text = (key: string): string =>
    typeof v[key] === "string" ? v[key] as string : fail(`${key} must be a string`);
  const lines = (key: string): string[] =>
    Array.isArray(v[key]) && (v[key] as unknown[]).every((l) => typeof l === "string")
      ? v[key] as string[]
      : fail(`${key} must be a list of strings`);
  const nonce = text("nonce");
  if (nonce !== "hex8" && nonce !== "hex_unpadded") fail("nonce must be hex8 or hex_unpadded");
  const requested = v.requestedDifficulty;
  if (requested !== null && typeof requested !== "number") {
    fail("requestedDifficulty must be a number or null");
  }
  const target = v.requestedTarget ?? null;
  if (target !== null && (typeof target !== "string" || !/^[0-9a-f]{64}$/.test(target))) {
    fail("requestedTarget must be 64 lowercase hex chars or null");
  }
  const submitId = v.submitId;
  if (typeof submitId !== "number" || !Number.isInteger(submitId)) {
    fail("submitId must be an integer");
  }
  const fixture: MinerFixture = {
    name,
    miner: text("miner"),
    firmware: text("firmware"),
    sources: lines("sources"),
    notes: lines("notes"),
    user: text("user"),
    password: text("password"),
    opening: lines("opening"),
    afterAuthorize: lines("afterAuthorize"),
    later: lines("later"),
    submit: text("submit"),
    submitId: submitId as number,
    nonce: nonce as NonceFormat,
    requestedDifficulty: requested as number | null,
    requestedTarget: target as string | null,
  };
  if (fixture.sources.length === 0) fail("sources must name where the lines come from");
  for (const line of [...fixture.opening, ...fixture.afterAuthorize, ...fixture.later]) {
    // Every stored line must be JSON once filled, as the miner writes it.
    JSON.parse(fill(line, { user: "u", password: "p", host_port: "h:1" }));
  }
  return fixture;
}
