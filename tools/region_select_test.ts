import assert from "node:assert/strict";
import {
  INITIAL_HEALTH,
  nextHealth,
  type RegionCandidate,
  type RegionHealthState,
  SelectionReason,
  selectRegion,
} from "./region_select.ts";

/** A US client's view of the seed's regions (round trips, ms). */
const US_CLIENT: RegionCandidate[] = [
  { region: "eu", rttMs: 90, healthy: true, priority: 0 },
  { region: "us-east", rttMs: 20, healthy: true, priority: 1 },
  { region: "asia", rttMs: 160, healthy: true, priority: 1 },
];

function withHealth(view: RegionCandidate[], region: string, healthy: boolean) {
  return view.map((c) => c.region === region ? { ...c, healthy } : c);
}

Deno.test("selectRegion() sends a client to the nearest healthy region", () => {
  const choice = selectRegion(US_CLIENT);
  assert.equal(choice.region, "us-east");
  assert.equal(choice.reason, SelectionReason.NearestHealthy);
  assert.deepEqual(choice.ranked, ["us-east", "eu", "asia"]);
});

Deno.test("selectRegion() fails over to the next-nearest region while the nearest is unhealthy", () => {
  assert.equal(selectRegion(withHealth(US_CLIENT, "us-east", false)).region, "eu");
  const asiaClient: RegionCandidate[] = [
    { region: "eu", rttMs: 230, healthy: true, priority: 0 },
    { region: "us-east", rttMs: 150, healthy: true },
    { region: "asia", rttMs: 30, healthy: false },
  ];
  // Seed §5.1: Asia fails over to the US.
  assert.equal(selectRegion(asiaClient).region, "us-east");
});

Deno.test("selectRegion() never picks an unreachable region, even a healthy one", () => {
  const view = US_CLIENT.map((c) => c.region === "us-east" ? { ...c, rttMs: undefined } : c);
  assert.equal(selectRegion(view).region, "eu");
});

Deno.test("selectRegion() breaks near-ties by priority, then by name", () => {
  const tie: RegionCandidate[] = [
    { region: "us-east", rttMs: 41, healthy: true, priority: 1 },
    { region: "eu", rttMs: 40.5, healthy: true, priority: 0 },
    { region: "asia", rttMs: 40, healthy: true, priority: 1 },
  ];
  assert.deepEqual(selectRegion(tie).ranked, ["eu", "asia", "us-east"]);
  assert.deepEqual(selectRegion(tie, { tieMs: 0 }).ranked, ["asia", "eu", "us-east"]);
});

Deno.test("selectRegion() fails open to the nearest reachable region when none is healthy", () => {
  const down = US_CLIENT.map((c) => ({ ...c, healthy: false }));
  const choice = selectRegion(down);
  assert.equal(choice.region, "us-east");
  assert.equal(choice.reason, SelectionReason.FailOpen);
  const unreachable = US_CLIENT.map((c) => ({ ...c, rttMs: undefined }));
  assert.deepEqual(selectRegion(unreachable), {
    region: null,
    reason: SelectionReason.NoneReachable,
    ranked: [],
  });
  assert.equal(selectRegion([]).region, null);
});

Deno.test("selectRegion() refuses repeated regions and bad numbers", () => {
  assert.throws(() => selectRegion([...US_CLIENT, US_CLIENT[0]!]), /"eu" is listed twice/);
  assert.throws(
    () => selectRegion([{ region: "eu", rttMs: -1, healthy: true }]),
    /RTT of eu is -1/,
  );
  assert.throws(
    () => selectRegion([{ region: "eu", rttMs: NaN, healthy: true }]),
    RangeError,
  );
  assert.throws(
    () => selectRegion([{ region: "eu", rttMs: 1, healthy: true, priority: Infinity }]),
    /priority of eu/,
  );
  assert.throws(() => selectRegion(US_CLIENT, { tieMs: -1 }), /tieMs/);
});

Deno.test("nextHealth() flips only after the threshold of consecutive contrary probes", () => {
  let state: RegionHealthState = INITIAL_HEALTH;
  state = nextHealth(state, false);
  state = nextHealth(state, false);
  assert.deepEqual(state, { healthy: true, streak: 2 });
  state = nextHealth(state, true); // one pass resets the count
  assert.deepEqual(state, { healthy: true, streak: 0 });
  for (let i = 0; i < 3; i++) state = nextHealth(state, false);
  assert.deepEqual(state, { healthy: false, streak: 0 });
  state = nextHealth(state, true);
  state = nextHealth(state, false);
  assert.deepEqual(state, { healthy: false, streak: 0 });
  for (let i = 0; i < 3; i++) state = nextHealth(state, true);
  assert.deepEqual(state, { healthy: true, streak: 0 });
  assert.deepEqual(nextHealth(INITIAL_HEALTH, false, 1), { healthy: false, streak: 0 });
  assert.throws(() => nextHealth(INITIAL_HEALTH, false, 0), /threshold/);
  assert.throws(() => nextHealth(INITIAL_HEALTH, false, 1.5), RangeError);
});
