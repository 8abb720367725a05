import assert from "node:assert/strict";
import {
  formatSnapshot,
  type RegionSnapshot,
  shareRate,
  type SimSnapshot,
  stalePercent,
} from "./summary.ts";

function region(overrides: Partial<RegionSnapshot> = {}): RegionSnapshot {
  return {
    region: "us-east",
    mode: "passthrough",
    miners: 2,
    sharesAccepted: 100,
    sharesRejected: 0,
    sharesStale: 0,
    blocks: 1,
    eventsPersisted: 150,
    ...overrides,
  };
}

Deno.test("shareRate() counts accepted shares per second between snapshots", () => {
  assert.equal(shareRate(region({ sharesAccepted: 50 }), region({ sharesAccepted: 100 }), 5), 10);
  assert.equal(shareRate(undefined, region({ sharesAccepted: 100 }), 10), 10);
  // A restarted service's counter starts again from zero.
  assert.equal(shareRate(region({ sharesAccepted: 500 }), region({ sharesAccepted: 20 }), 5), 4);
  assert.equal(shareRate(region(), region(), 0), 0);
});

Deno.test("stalePercent() is stale shares over all answered shares", () => {
  assert.equal(
    stalePercent(region({ sharesAccepted: 990, sharesRejected: 10, sharesStale: 5 })),
    0.5,
  );
  assert.equal(stalePercent(region({ sharesAccepted: 0, sharesRejected: 0 })), 0);
});

Deno.test("formatSnapshot() prints one line per region, relays with template latency and RTT", () => {
  const previous: SimSnapshot = {
    elapsedMs: 5_000,
    height: 110,
    eventsPersisted: 100,
    regions: [
      region({ region: "eu", mode: "primary", sharesAccepted: 10 }),
      region({ sharesAccepted: 20 }),
    ],
  };
  const current: SimSnapshot = {
    elapsedMs: 10_000,
    height: 112,
    eventsPersisted: 240,
    regions: [
      region({ region: "eu", mode: "primary", sharesAccepted: 35 }),
      region({ sharesAccepted: 40, templateLatencyMs: 84.4, primaryRttMs: 163 }),
      region({ region: "asia", mode: "down", miners: 0, sharesAccepted: 0 }),
    ],
  };
  const lines = formatSnapshot(current, previous);
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^\[ {2}10 s\] height 112 {2}events persisted 240$/);
  assert.match(lines[1]!, /eu .* primary .* shares\/s {3}5\.0/);
  assert.doesNotMatch(lines[1]!, /template/);
  assert.match(
    lines[2]!,
    /us-east .*passthrough .*shares\/s {3}4\.0 .*template 84 ms {2}rtt 163 ms/,
  );
  assert.match(lines[3]!, /asia .*down .*template {4}- {4}rtt {4}- /);
});
