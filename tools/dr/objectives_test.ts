import assert from "node:assert/strict";
import { formatDuration, objectivesTable, SEED_OBJECTIVES, verdict } from "./objectives.ts";

const byId = (id: string) => SEED_OBJECTIVES.find((o) => o.id === id)!;

Deno.test("the seed's targets: Stratum 5 min, pipeline 1 h, PostgreSQL 1 min, Redis 5 min", () => {
  assert.equal(byId("rto_stratum").limitMs, 300_000);
  assert.equal(byId("rto_pipeline").limitMs, 3_600_000);
  assert.equal(byId("rpo_postgres").limitMs, 60_000);
  assert.equal(byId("rpo_redis").limitMs, 300_000);
});

Deno.test("a verdict passes within the target, fails beyond it, and any lost event fails", () => {
  const pg = byId("rpo_postgres");
  assert.equal(verdict(pg, { ms: 60_000, detail: "" }), "PASS");
  assert.equal(verdict(pg, { ms: 60_001, detail: "" }), "FAIL");
  assert.equal(verdict(pg, { ms: null, detail: "" }), "not drilled");
  assert.equal(verdict(pg, undefined), "not drilled");
  const events = byId("rpo_events");
  assert.equal(verdict(events, { ms: 0, lostEvents: 0, detail: "" }), "PASS");
  assert.equal(verdict(events, { ms: 0, lostEvents: 1, detail: "" }), "FAIL");
});

Deno.test("the table has a row per objective and reports a failure", () => {
  const ok = objectivesTable({
    rto_stratum: { ms: 4_200, detail: "relays independent" },
    rpo_events: { ms: 0, lostEvents: 0, detail: "none lost" },
  });
  assert.equal(ok.lines.length, SEED_OBJECTIVES.length + 1);
  assert.equal(ok.failed, false);
  assert.match(ok.lines[1]!, /^RTO .*< 5 min +4\.2 s +PASS +relays independent$/);
  assert.match(ok.lines.find((l) => l.includes("Bitcoin Core"))!, /— +not drilled/);
  const bad = objectivesTable({ rto_pipeline: { ms: 2 * 3_600_000, detail: "slow" } });
  assert.equal(bad.failed, true);
  assert.match(bad.lines[2]!, /2\.0 h +FAIL/);
});

Deno.test("durations read in the unit that fits", () => {
  assert.equal(formatDuration(1_234), "1.2 s");
  assert.equal(formatDuration(150_000), "2.5 min");
  assert.equal(formatDuration(5_400_000), "1.5 h");
});
