import assert from "node:assert/strict";
import { combineHealth, failingChecks, StratumCheck, stratumHealth } from "./health_checks.ts";

function probe() {
  const state = { listening: true, ageMs: 5_000, bitcoind: true };
  const health = stratumHealth({
    listening: () => state.listening,
    templateAgeMs: () => state.ageMs,
    maxTemplateAgeMs: 60_000,
    bitcoindConnected: () => state.bitcoind,
  });
  return { state, health };
}

Deno.test("stratumHealth() is ok while listening with a fresh template", () => {
  const { health } = probe();
  const report = health();
  assert.equal(report.ok, true);
  assert.deepEqual(failingChecks(report), []);
  assert.deepEqual(report.checks[StratumCheck.template], {
    ok: true,
    detail: "age 5.0 s (limit 60.0 s)",
  });
});

Deno.test("stratumHealth() fails when the Stratum listener stops accepting", () => {
  const { state, health } = probe();
  state.listening = false;
  const report = health();
  assert.equal(report.ok, false);
  assert.deepEqual(failingChecks(report), [StratumCheck.listener]);
});

Deno.test("stratumHealth() fails once the template is older than the limit, and recovers", () => {
  const { state, health } = probe();
  state.ageMs = 60_000;
  assert.equal(health().ok, true, "exactly at the limit is still fresh");
  state.ageMs = 60_001;
  assert.equal(health().ok, false);
  state.ageMs = Infinity;
  const report = health();
  assert.equal(report.ok, false);
  assert.equal(report.checks[StratumCheck.template]?.detail, "no template yet (limit 60.0 s)");
  state.ageMs = 10;
  assert.equal(health().ok, true);
});

Deno.test("stratumHealth() reports a lost bitcoind without failing overall", () => {
  const { state, health } = probe();
  state.bitcoind = false;
  const report = health();
  assert.equal(report.ok, true);
  assert.deepEqual(failingChecks(report), [StratumCheck.bitcoind]);
});

Deno.test("stratumHealth() refuses a limit that is not positive", () => {
  for (const maxTemplateAgeMs of [0, -5, NaN, Infinity]) {
    assert.throws(
      () =>
        stratumHealth({
          listening: () => true,
          templateAgeMs: () => 0,
          maxTemplateAgeMs,
          bitcoindConnected: () => true,
        }),
      RangeError,
    );
  }
});

Deno.test("combineHealth() is ok only when every source is, and merges same-named checks", () => {
  let linkUp = true;
  const { health } = probe();
  const link = () => ({
    ok: linkUp,
    checks: { primary_link: { ok: linkUp, detail: linkUp ? "up" : "down" } },
  });
  const extra = () => ({ ok: true, checks: { primary_link: { ok: true, detail: "kv ok" } } });
  const combined = combineHealth(health, link, extra);
  assert.equal(combined().ok, true);
  linkUp = false;
  const report = combined();
  assert.equal(report.ok, false);
  assert.deepEqual(report.checks.primary_link, { ok: false, detail: "down; kv ok" });
  assert.equal(Object.keys(report.checks).length, 4);
});

Deno.test("stratumHealth() fails at once when the template source cannot deliver, and recovers", () => {
  let sourceHealthy = true;
  const health = stratumHealth({
    listening: () => true,
    templateAgeMs: () => 1_000,
    maxTemplateAgeMs: 60_000,
    bitcoindConnected: () => false,
    templateSourceHealthy: () => sourceHealthy,
  });
  assert.equal(
    health().ok,
    true,
    "a lost local node alone does not fail a relay fed by the primary",
  );
  sourceHealthy = false;
  const report = health();
  assert.equal(report.ok, false);
  assert.deepEqual(
    failingChecks(report).sort(),
    [StratumCheck.bitcoind, StratumCheck.source].sort(),
  );
  assert.equal(report.checks[StratumCheck.source]?.detail, "cannot deliver new templates");
  sourceHealthy = true;
  assert.equal(health().ok, true);
});
