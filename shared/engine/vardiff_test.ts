import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import {
  HASHES_PER_DIFFICULTY,
  type Retarget,
  roundDifficulty,
  VarDiff,
  type VarDiffOptions,
} from "./vardiff.ts";

/** The seed's mainnet `vardiff{}` values with a fractional mindiff and no maxdiff. */
const DEFAULTS: VarDiffOptions = {
  target_share_interval: 10,
  retarget_interval: 30,
  ema_alpha: 0.3,
  dampening: 0.5,
  dead_band_percent: 20,
  mindiff: 0.0001,
  maxdiff: 0,
};

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** mulberry32: a small seeded PRNG, so every simulated miner is reproducible. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Change {
  atMs: number;
  diff: number;
}

interface Simulation {
  vd: VarDiff;
  clock: ManualClock;
  changes: Change[];
  shareTimesMs: number[];
  /** Hashrate estimates sampled at every tick. */
  estimates: { atMs: number; hashrate: number }[];
}

interface SimulationParams {
  /** The miner's true hashrate in H/s. */
  hashrate: number;
  startDiff: number;
  durationMs: number;
  /** Poisson arrivals from this seed; without it, shares arrive exactly on schedule. */
  seed?: number;
  opts?: Partial<VarDiffOptions>;
  /** The session's periodic tick. */
  tickMs?: number;
}

/**
 * Runs one connection against a miner of fixed hashrate. Shares form a Poisson process with
 * mean inter-arrival `difficulty × 2^32 / hashrate`; when the difficulty changes the miner
 * switches at once (by memorylessness the next arrival is drawn afresh from the new rate).
 */
function simulate(p: SimulationParams): Simulation {
  const clock = new ManualClock(0);
  const vd = new VarDiff({ ...DEFAULTS, ...p.opts }, clock, p.startDiff);
  const random = p.seed === undefined ? undefined : seededRandom(p.seed);
  const interArrivalMs = (diff: number): number => {
    const meanMs = diff * HASHES_PER_DIFFICULTY / p.hashrate * 1000;
    return random === undefined ? meanMs : -Math.log(1 - random()) * meanMs;
  };
  const tickMs = p.tickMs ?? 5_000;
  const sim: Simulation = { vd, clock, changes: [], shareTimesMs: [], estimates: [] };
  let nextTickMs = tickMs;
  let nextShareMs = interArrivalMs(vd.current);
  for (;;) {
    const t = Math.min(nextTickMs, nextShareMs);
    if (t > p.durationMs) break;
    clock.advanceTo(t);
    let retarget: Retarget | null;
    if (t === nextShareMs) {
      sim.shareTimesMs.push(t);
      vd.recordShare(vd.current);
      retarget = vd.maybeRetarget();
      nextShareMs = t + interArrivalMs(vd.current);
    } else {
      retarget = vd.maybeRetarget();
      sim.estimates.push({ atMs: t, hashrate: vd.hashrateEstimate() });
      nextTickMs += tickMs;
    }
    if (retarget !== null) {
      assert.equal(retarget.newDiff, vd.current);
      sim.changes.push({ atMs: t, diff: retarget.newDiff });
      nextShareMs = t + interArrivalMs(retarget.newDiff);
    }
  }
  return sim;
}

function assertClose(actual: number, expected: number): void {
  assert.ok(Math.abs(actual / expected - 1) < 1e-12, `${actual} vs ${expected}`);
}

function idealDiff(hashrate: number, targetS = DEFAULTS.target_share_interval): number {
  return hashrate * targetS / HASHES_PER_DIFFICULTY;
}

/** Difficulty in force at `atMs`. */
function diffAt(sim: Simulation, startDiff: number, atMs: number): number {
  let diff = startDiff;
  for (const c of sim.changes) {
    if (c.atMs > atMs) break;
    diff = c.diff;
  }
  return diff;
}

const MINERS = [
  { name: "Bitaxe 500 GH/s", hashrate: 500e9, tooLow: 1, tooHigh: 1e6 },
  { name: "ASIC 100 TH/s", hashrate: 100e12, tooLow: 1, tooHigh: 1e9 },
  { name: "CPU 1 MH/s", hashrate: 1e6, tooLow: 0.0001, tooHigh: 1 },
] as const;
const SEEDS = [1, 2, 3] as const;

// Tolerances for the convergence tests, and why:
// - The mean share interval over the last 2 h (240 retarget intervals, about 720 shares) must
//   lie within the dead band, 10 s ± 20 %: the controller leaves errors inside the dead band
//   alone by design, so it may rest anywhere in it. The Poisson sampling error of 720 shares
//   (±3.7 % at 1σ) is small beside that; the seeds are fixed, so the runs are reproducible.
// - "Stays stable": at most 8 changes in those 240 retargets, and the difficulty never leaves
//   [0.5, 2] × ideal. The hashrate EMA alone wanders by about ±24 % at 3 shares per window;
//   without the confirmation rule the same runs change difficulty about 80 times in 2 h.
// - The mean hashrate estimate over those 2 h lies within ±15 % of the true hashrate.
const MEASURE_MS = 2 * HOUR_MS;
const RUN_MS = 3 * HOUR_MS;

function assertConvergedAndStable(sim: Simulation, hashrate: number, startDiff: number): void {
  const fromMs = RUN_MS - MEASURE_MS;
  const shares = sim.shareTimesMs.filter((t) => t >= fromMs).length;
  const meanIntervalS = MEASURE_MS / 1000 / shares;
  assert.ok(
    meanIntervalS >= 8 && meanIntervalS <= 12,
    `mean share interval ${meanIntervalS.toFixed(2)} s outside 10 s ± 20 %`,
  );
  const late = sim.changes.filter((c) => c.atMs >= fromMs);
  assert.ok(late.length <= 8, `${late.length} changes in the last 2 h`);
  const ideal = idealDiff(hashrate);
  const diffs = [diffAt(sim, startDiff, fromMs), ...late.map((c) => c.diff)];
  for (const diff of diffs) {
    assert.ok(diff >= ideal / 2 && diff <= ideal * 2, `difficulty ${diff} vs ideal ${ideal}`);
  }
  const estimates = sim.estimates.filter((e) => e.atMs >= fromMs);
  const meanEstimate = estimates.reduce((s, e) => s + e.hashrate, 0) / estimates.length;
  assert.ok(
    Math.abs(meanEstimate / hashrate - 1) <= 0.15,
    `mean hashrate estimate ${meanEstimate} vs ${hashrate}`,
  );
}

function firstWithinBandMs(sim: Simulation, hashrate: number): number {
  const ideal = idealDiff(hashrate);
  const hit = sim.changes.find((c) => Math.abs(c.diff / ideal - 1) <= 0.2);
  return hit === undefined ? Number.POSITIVE_INFINITY : hit.atMs;
}

for (const miner of MINERS) {
  Deno.test(`VarDiff converges for a ${miner.name} started far too low, then holds still`, () => {
    for (const seed of SEEDS) {
      const sim = simulate({
        hashrate: miner.hashrate,
        startDiff: miner.tooLow,
        durationMs: RUN_MS,
        seed,
      });
      // Fast start and the confirmation rule's quick path for large errors.
      assert.ok(firstWithinBandMs(sim, miner.hashrate) <= 5 * MINUTE_MS, `seed ${seed}`);
      assertConvergedAndStable(sim, miner.hashrate, miner.tooLow);
    }
  });

  Deno.test(`VarDiff converges for a ${miner.name} started far too high, then holds still`, () => {
    for (const seed of SEEDS) {
      const sim = simulate({
        hashrate: miner.hashrate,
        startDiff: miner.tooHigh,
        durationMs: RUN_MS,
        seed,
      });
      // Hundreds to thousands of times too high: idle decay brings it down within minutes.
      assert.ok(firstWithinBandMs(sim, miner.hashrate) <= 45 * MINUTE_MS, `seed ${seed}`);
      assertConvergedAndStable(sim, miner.hashrate, miner.tooHigh);
    }
  });
}

Deno.test("VarDiff fast start retargets a flooding miner well before the retarget interval", () => {
  const hashrate = 100e12;
  const sim = simulate({ hashrate, startDiff: 1, durationMs: 2_000 });
  const first = sim.changes[0];
  assert.ok(first !== undefined);
  assert.ok(first.atMs < 1_000, `first retarget at ${first.atMs} ms`);
  // Dampening 0.5 takes half the way from 1 to the ideal (~232,831).
  assert.ok(Math.abs(first.diff / (idealDiff(hashrate) / 2) - 1) < 0.01, `${first.diff}`);
});

Deno.test("VarDiff dead band keeps a miner within 20 % of the target rate unchanged", () => {
  for (const ratio of [0.85, 1, 1.15]) {
    // Shares exactly on schedule at `ratio` × the ideal rate, for 3 hours.
    const startDiff = 1000;
    const hashrate = startDiff * HASHES_PER_DIFFICULTY / DEFAULTS.target_share_interval * ratio;
    const sim = simulate({ hashrate, startDiff, durationMs: RUN_MS });
    assert.deepEqual(sim.changes, [], `ratio ${ratio}`);
    assert.equal(sim.vd.current, startDiff);
  }
});

Deno.test("VarDiff moves a miner beyond the dead band by the dampening factor", () => {
  // Shares exactly on schedule at twice the target rate: ideal 2000.
  const startDiff = 1000;
  const hashrate = 2 * startDiff * HASHES_PER_DIFFICULTY / DEFAULTS.target_share_interval;
  const sim = simulate({ hashrate, startDiff, durationMs: 30 * MINUTE_MS });
  const first = sim.changes[0];
  assert.ok(first !== undefined);
  // At most half way: the aim is the lower of the EMA and the confirming evidence.
  assert.ok(first.diff > 1000 && first.diff <= 1500, `${first.diff}`);
  assert.ok(first.atMs <= 2 * MINUTE_MS);
  assert.ok(Math.abs(sim.vd.current / 2000 - 1) <= 0.2, `${sim.vd.current}`);
  assert.ok(sim.changes.length <= 4);
});

Deno.test("VarDiff keeps fractional difficulties (rounded to 3 significant digits)", () => {
  const hashrate = 1e6;
  const sim = simulate({ hashrate, startDiff: 0.0001, durationMs: HOUR_MS });
  const diff = sim.vd.current;
  assert.ok(diff > 0.0001 && diff < 0.01, `difficulty ${diff}`);
  assert.equal(diff, roundDifficulty(diff));
  assert.ok(Math.abs(diff / idealDiff(hashrate) - 1) <= 0.2);
});

Deno.test("roundDifficulty() keeps 3 significant digits and never rounds to an integer", () => {
  assert.equal(roundDifficulty(1164.1532), 1160);
  assert.equal(roundDifficulty(0.0023283064), 0.00233);
  assert.equal(roundDifficulty(0.0001), 0.0001);
  assert.equal(roundDifficulty(232830.64), 233000);
  assert.equal(roundDifficulty(0.5), 0.5);
});

Deno.test("VarDiff idle decay halves after 120 s of silence, then sooner, down to mindiff", () => {
  const clock = new ManualClock(0);
  const vd = new VarDiff({ ...DEFAULTS, mindiff: 100 }, clock, 1000);
  clock.advanceTo(119_999);
  assert.equal(vd.maybeRetarget(), null);
  clock.advanceTo(120_000);
  assert.deepEqual(vd.maybeRetarget(), { newDiff: 500 });
  assert.equal(vd.previous, 1000);
  assert.equal(vd.changedAtMs, 120_000);
  // Still silent: the next halving waits half as long (60 s), then one retarget interval.
  clock.advanceTo(179_999);
  assert.equal(vd.maybeRetarget(), null);
  clock.advanceTo(180_000);
  assert.deepEqual(vd.maybeRetarget(), { newDiff: 250 });
  clock.advanceTo(210_000);
  assert.deepEqual(vd.maybeRetarget(), { newDiff: 125 });
  clock.advanceTo(240_000);
  assert.deepEqual(vd.maybeRetarget(), { newDiff: 100 });
  clock.advanceTo(3_600_000);
  assert.equal(vd.maybeRetarget(), null);
  assert.equal(vd.current, 100);
});

Deno.test("VarDiff halves a miner that stops 120 s after its last share", () => {
  const clock = new ManualClock(0);
  const vd = new VarDiff(DEFAULTS, clock, 1000);
  // Exactly on target for 10 minutes: an exact estimate and no change.
  for (let t = 10_000; t <= 600_000; t += 10_000) {
    clock.advanceTo(t);
    vd.recordShare(1000);
    assert.equal(vd.maybeRetarget(), null);
  }
  for (let t = 605_000; t < 720_000; t += 5_000) {
    clock.advanceTo(t);
    assert.equal(vd.maybeRetarget(), null, `at ${t} ms`);
  }
  clock.advanceTo(720_000);
  assert.deepEqual(vd.maybeRetarget(), { newDiff: 500 });
});

Deno.test("VarDiff idle decay waits the full time again after a share", () => {
  // A dead band of 99 % leaves only idle decay able to lower the difficulty here.
  const clock = new ManualClock(0);
  const vd = new VarDiff({ ...DEFAULTS, dead_band_percent: 99 }, clock, 1000);
  clock.advanceTo(120_000);
  assert.deepEqual(vd.maybeRetarget(), { newDiff: 500 });
  clock.advanceTo(150_000);
  vd.recordShare(500);
  assert.equal(vd.maybeRetarget(), null);
  clock.advanceTo(269_999);
  assert.equal(vd.maybeRetarget(), null);
  clock.advanceTo(270_000);
  assert.deepEqual(vd.maybeRetarget(), { newDiff: 250 });
});

Deno.test("VarDiff never goes below mindiff, keeping a fractional mindiff exact", () => {
  // A 1 MH/s miner's ideal is ~0.00233; with mindiff 0.0101 it must settle exactly there.
  const sim = simulate({
    hashrate: 1e6,
    startDiff: 1,
    durationMs: 2 * HOUR_MS,
    seed: 7,
    opts: { mindiff: 0.0101 },
  });
  assert.equal(sim.vd.current, 0.0101);
  for (const c of sim.changes) assert.ok(c.diff >= 0.0101);
});

Deno.test("VarDiff never goes above maxdiff", () => {
  const sim = simulate({
    hashrate: 100e12,
    startDiff: 1,
    durationMs: HOUR_MS,
    seed: 7,
    opts: { maxdiff: 1234.5 },
  });
  assert.equal(sim.vd.current, 1234.5);
  for (const c of sim.changes) assert.ok(c.diff <= 1234.5);
});

Deno.test("VarDiff clamps the initial difficulty to the pool bounds", () => {
  const clock = new ManualClock(0);
  assert.equal(new VarDiff({ ...DEFAULTS, mindiff: 512 }, clock, 1).current, 512);
  assert.equal(new VarDiff({ ...DEFAULTS, maxdiff: 100 }, clock, 1e6).current, 100);
  assert.equal(new VarDiff(DEFAULTS, clock, 1234.5678).current, 1234.5678);
});

Deno.test("VarDiff.setMinerMinimum() raises the difficulty at once and floors vardiff", () => {
  const clock = new ManualClock(0);
  const vd = new VarDiff(DEFAULTS, clock, 100);
  clock.advanceTo(5_000);
  assert.deepEqual(vd.setMinerMinimum(256), { newDiff: 256 });
  assert.equal(vd.previous, 100);
  assert.equal(vd.changedAtMs, 5_000);
  assert.equal(vd.floor, 256);
  assert.equal(vd.setMinerMinimum(200), null);
  assert.equal(vd.current, 256);
  // A silent miner decays, but not below its own minimum.
  clock.advanceTo(HOUR_MS);
  vd.maybeRetarget();
  assert.equal(vd.current, 200);
});

Deno.test("VarDiff.setSuggested() sets the difficulty within bounds and keeps it as a floor", () => {
  const clock = new ManualClock(0);
  const vd = new VarDiff({ ...DEFAULTS, mindiff: 1, maxdiff: 1e6 }, clock, 1000);
  assert.deepEqual(vd.setSuggested(2048.5), { newDiff: 2048.5 });
  assert.equal(vd.floor, 2048.5);
  assert.deepEqual(vd.setSuggested(0.5), { newDiff: 1 });
  assert.deepEqual(vd.setSuggested(1e9), { newDiff: 1e6 });
  assert.equal(vd.setSuggested(1e9), null);

  // A silent miner decays, but never below what it suggested.
  const floored = new VarDiff(DEFAULTS, clock, 1000);
  floored.setSuggested(5000);
  clock.advanceTo(clock.nowMs() + HOUR_MS);
  floored.maybeRetarget();
  assert.equal(floored.current, 5000);
});

Deno.test("VarDiff.setRemembered() sets the difficulty without making it a floor", () => {
  const clock = new ManualClock(0);
  const vd = new VarDiff({ ...DEFAULTS, mindiff: 1, maxdiff: 1e6 }, clock, 10_000);
  assert.deepEqual(vd.setRemembered(1234.5), { newDiff: 1234.5 });
  assert.equal(vd.previous, 10_000);
  assert.equal(vd.floor, 1);
  assert.equal(vd.setRemembered(1234.5), null);
  assert.deepEqual(vd.setRemembered(1e9), { newDiff: 1e6 });
  vd.setRemembered(1000);
  // A silent miner decays below the remembered value.
  clock.advanceTo(HOUR_MS);
  vd.maybeRetarget();
  assert.equal(vd.current, 500);
});

Deno.test("VarDiff.hashrateEstimate() is 0 until a window with shares closes, then tracks", () => {
  const clock = new ManualClock(0);
  const vd = new VarDiff(DEFAULTS, clock, 1000);
  assert.equal(vd.hashrateEstimate(), 0);
  for (let i = 1; i <= 3; i++) {
    clock.advanceTo(i * 9_000);
    vd.recordShare(1000);
    assert.equal(vd.maybeRetarget(), null);
  }
  assert.equal(vd.hashrateEstimate(), 0);
  clock.advanceTo(30_000);
  vd.maybeRetarget();
  assertClose(vd.hashrateEstimate(), 3 * 1000 * HASHES_PER_DIFFICULTY / 30);
});

Deno.test("VarDiff credits grace shares at the difficulty they were mined at", () => {
  const clock = new ManualClock(0);
  const vd = new VarDiff(DEFAULTS, clock, 1000);
  // Three shares in the window, each credited at half the session difficulty.
  for (const t of [5_000, 15_000, 25_000]) {
    clock.advanceTo(t);
    vd.recordShare(500);
  }
  clock.advanceTo(30_000);
  vd.maybeRetarget();
  assertClose(vd.hashrateEstimate(), 3 * 500 * HASHES_PER_DIFFICULTY / 30);
});

Deno.test("VarDiff rejects invalid settings and difficulties", () => {
  const clock = new ManualClock(0);
  assert.throws(() => new VarDiff({ ...DEFAULTS, mindiff: 0 }, clock, 1), RangeError);
  assert.throws(() => new VarDiff({ ...DEFAULTS, maxdiff: -1 }, clock, 1), RangeError);
  assert.throws(() => new VarDiff({ ...DEFAULTS, mindiff: 10, maxdiff: 5 }, clock, 1), RangeError);
  assert.throws(() => new VarDiff({ ...DEFAULTS, ema_alpha: 0 }, clock, 1), RangeError);
  assert.throws(() => new VarDiff({ ...DEFAULTS, dampening: 1.5 }, clock, 1), RangeError);
  assert.throws(() => new VarDiff({ ...DEFAULTS, dead_band_percent: 100 }, clock, 1), RangeError);
  assert.throws(() => new VarDiff({ ...DEFAULTS, retarget_interval: 0 }, clock, 1), RangeError);
  assert.throws(
    () => new VarDiff({ ...DEFAULTS, target_share_interval: NaN }, clock, 1),
    RangeError,
  );
  assert.throws(() => new VarDiff(DEFAULTS, clock, 0), RangeError);
  const vd = new VarDiff(DEFAULTS, clock, 1);
  assert.throws(() => vd.setSuggested(Number.NaN), RangeError);
  assert.throws(() => vd.setMinerMinimum(-1), RangeError);
  assert.throws(() => vd.setRemembered(0), RangeError);
});
