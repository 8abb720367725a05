import assert from "node:assert/strict";
import { countersFromMetrics, evaluateGates, type PoolCounters } from "./upgrade_gates.ts";

const LIMITS = { minShares: 10, maxRejectRatio: 0.05, maxErrorRatio: 0.01 };
const zero: PoolCounters = { shares: 0, rejected: 0, errors: 0, dropped: 0, miners: 0 };
const failed = (results: ReturnType<typeof evaluateGates>) =>
  results.filter((r) => !r.ok).map((r) => r.gate);

Deno.test("countersFromMetrics() sums shares, rejects, errors and drops over their labels", () => {
  const text = [
    "# HELP ckpool_shares_total shares",
    'ckpool_shares_total{region="eu",instance="stratum-eu-2",valid="true"} 90',
    'ckpool_shares_total{region="eu",instance="stratum-eu-2",valid="false",reason="stale"} 4',
    'ckpool_shares_total{region="eu",instance="stratum-eu-2",valid="false",reason="dup"} 1',
    'ckpool_protocol_errors_total{kind="bad_json"} 2',
    "ckpool_block_submit_failures_total 1",
    "ckpool_events_dropped_total 0",
    'ckpool_connected_miners{region="eu"} 7',
  ].join("\n");
  assert.deepEqual(countersFromMetrics(text), {
    shares: 95,
    rejected: 5,
    errors: 3,
    dropped: 0,
    miners: 7,
  });
  assert.deepEqual(countersFromMetrics(""), zero);
});

Deno.test("evaluateGates() passes a soak with enough shares and low reject and error ratios", () => {
  const after = [{ ...zero, shares: 60, rejected: 1 }, { ...zero, shares: 40, rejected: 1 }];
  const results = evaluateGates([zero, zero], after, [], LIMITS);
  assert.deepEqual(failed(results), []);
  assert.equal(
    results.find((r) => r.gate === "reject_ratio")?.detail,
    "2/100 = 2.00 % (at most 5.00 %)",
  );
});

Deno.test("evaluateGates() fails each gate on its own condition", () => {
  assert.deepEqual(failed(evaluateGates([zero], [{ ...zero, shares: 9 }], [], LIMITS)), ["shares"]);
  assert.deepEqual(
    failed(evaluateGates([zero], [{ ...zero, shares: 100, rejected: 6 }], [], LIMITS)),
    ["reject_ratio"],
  );
  assert.deepEqual(
    failed(evaluateGates([zero], [{ ...zero, shares: 100, errors: 2 }], [], LIMITS)),
    ["error_ratio"],
  );
  assert.deepEqual(
    failed(evaluateGates([zero], [{ ...zero, shares: 100, dropped: 1 }], [], LIMITS)),
    ["events_dropped"],
  );
  assert.deepEqual(
    failed(evaluateGates([zero], [{ ...zero, shares: 100 }], ["instance 2: listening"], LIMITS)),
    ["health"],
  );
});

Deno.test("evaluateGates() counts only the soak, and all of a counter that restarted", () => {
  const before = [{ ...zero, shares: 1_000, rejected: 500 }];
  // 1,000 → 1,020 with no new rejects: the old 50 % reject ratio is not the soak's.
  assert.deepEqual(
    failed(evaluateGates(before, [{ ...zero, shares: 1_020, rejected: 500 }], [], LIMITS)),
    [],
  );
  // A process that restarted mid-soak reports from 0: 30 shares, 3 rejected, all in the soak.
  const restarted = evaluateGates(before, [{ ...zero, shares: 30, rejected: 3 }], [], LIMITS);
  assert.equal(restarted.find((r) => r.gate === "shares")?.detail, "30 answered (at least 10)");
  assert.deepEqual(failed(restarted), ["reject_ratio"]);
});

Deno.test("evaluateGates() refuses mismatched lists and ratios outside 0–1", () => {
  assert.throws(
    () => evaluateGates([zero], [], [], LIMITS),
    /1 processes before the soak, 0 after/,
  );
  assert.throws(
    () => evaluateGates([zero], [zero], [], { ...LIMITS, maxRejectRatio: 1.5 }),
    /maxRejectRatio 1.5 is not within 0–1/,
  );
  assert.throws(
    () => evaluateGates([zero], [zero], [], { ...LIMITS, maxErrorRatio: NaN }),
    /maxErrorRatio NaN is not within 0–1/,
  );
});
