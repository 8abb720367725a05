import assert from "node:assert/strict";
import { bitsToTarget, difficultyToTarget } from "@tbg/shared/bitcoin";
import { DEFAULT_RELAYS, planSimulation } from "./sim_options.ts";

Deno.test("planSimulation() fills the seed's regions and derives difficulty from the block interval", () => {
  const plan = planSimulation();
  assert.deepEqual(plan.regions, ["eu", "us-east", "asia"]);
  assert.deepEqual(plan.relays, DEFAULT_RELAYS);
  // 6 miners × 8,000 H/s × 10 s per block = 480,000 hashes = difficulty × 2^32.
  assert.ok(Math.abs(plan.networkDifficulty - 480_000 / 2 ** 32) < 1e-12);
  assert.ok(Math.abs(plan.expectedBlockIntervalS - 10) < 1e-9);
  // The bits encode that difficulty (compact form keeps about 3 significant bytes).
  const target = bitsToTarget(plan.bits);
  const wanted = difficultyToTarget(plan.networkDifficulty);
  assert.ok(target <= wanted && target > (wanted * 999n) / 1000n);
  // A miner at the start difficulty finds a share every target interval.
  assert.ok(Math.abs((plan.startDifficulty * 2 ** 32) / 8_000 - plan.targetShareIntervalS) < 1e-9);
});

Deno.test("planSimulation() takes an explicit difficulty over the block interval", () => {
  const plan = planSimulation({ networkDifficulty: 0.001, blockIntervalS: 1, minersPerRegion: 1 });
  assert.equal(plan.networkDifficulty, 0.001);
  assert.ok(Math.abs(plan.expectedBlockIntervalS - (0.001 * 2 ** 32) / 24_000) < 1e-9);
});

Deno.test("planSimulation() refuses bad values, naming them", () => {
  assert.throws(() => planSimulation({ minersPerRegion: -1 }), /miners per region/);
  assert.throws(() => planSimulation({ minersPerRegion: 1.5 }), RangeError);
  assert.throws(() => planSimulation({ minerHashrate: 0 }), /miner hash rate/);
  assert.throws(() => planSimulation({ blockIntervalS: Number.NaN }), /block interval/);
  assert.throws(() => planSimulation({ minersPerRegion: 0 }), /needs miners/);
  assert.throws(() => planSimulation({ independentAfterMs: 0 }), /independent_after_ms/);
  assert.throws(() => planSimulation({ heartbeatMs: 5 }), /heartbeat_ms/);
  assert.throws(() => planSimulation({ updateIntervalS: 0 }), /update_interval/);
  const relay = DEFAULT_RELAYS[0]!;
  assert.throws(() => planSimulation({ relays: [relay, relay] }), /repeats/);
  assert.throws(
    () => planSimulation({ relays: [{ ...relay, region: "eu" }] }),
    /repeats/,
  );
  assert.throws(() => planSimulation({ relays: [{ ...relay, region: "US East" }] }), /slug/);
  assert.throws(() => planSimulation({ relays: [{ ...relay, regionIndex: 0 }] }), /region index/);
  assert.throws(
    () => planSimulation({ relays: [relay, { ...DEFAULT_RELAYS[1]!, regionIndex: 1 }] }),
    /taken/,
  );
  assert.throws(
    () => planSimulation({ relays: [{ ...relay, link: { delayMs: -1, jitterMs: 0 } }] }),
    /delayMs/,
  );
});
