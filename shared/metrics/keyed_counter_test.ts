import assert from "node:assert/strict";
import { MetricRegistry } from "./registry.ts";
import { KeyedCounter, OVERFLOW_KEY } from "./keyed_counter.ts";
import { parseExposition, sampleValue } from "./_exposition.ts";

Deno.test("KeyedCounter exports known names at 0 and counts each name apart", async () => {
  const registry = new MetricRegistry();
  const counter = new KeyedCounter({
    registry,
    name: "t_rejections_total",
    help: "h",
    label: "rule",
    known: ["a", "b"],
  });
  counter.inc("a");
  counter.inc("a", 2);
  const parsed = parseExposition(await registry.metrics());
  assert.equal(sampleValue(parsed, "t_rejections_total", { rule: "a" }), 3);
  assert.equal(sampleValue(parsed, "t_rejections_total", { rule: "b" }), 0);
});

Deno.test("KeyedCounter counts an unlisted name under its own series", async () => {
  const registry = new MetricRegistry();
  const counter = new KeyedCounter({
    registry,
    name: "t_errors_total",
    help: "h",
    label: "kind",
    known: [],
  });
  counter.inc("new_kind");
  assert.equal(counter.cell("new_kind").value, 1);
  const parsed = parseExposition(await registry.metrics());
  assert.equal(sampleValue(parsed, "t_errors_total", { kind: "new_kind" }), 1);
});

Deno.test("KeyedCounter folds names beyond the cap into the overflow series", async () => {
  const registry = new MetricRegistry();
  const counter = new KeyedCounter({
    registry,
    name: "t_errors_total",
    help: "h",
    label: "kind",
    known: ["known"],
    maxExtraKeys: 2,
  });
  for (const kind of ["x1", "x2", "x3", "x4", "x3"]) counter.inc(kind);
  counter.inc("known");
  const parsed = parseExposition(await registry.metrics());
  assert.equal(sampleValue(parsed, "t_errors_total", { kind: "x1" }), 1);
  assert.equal(sampleValue(parsed, "t_errors_total", { kind: "x2" }), 1);
  assert.equal(sampleValue(parsed, "t_errors_total", { kind: OVERFLOW_KEY }), 3);
  assert.equal(sampleValue(parsed, "t_errors_total", { kind: "known" }), 1);
  assert.equal(
    parsed.samples.filter((sample) => sample.name === "t_errors_total").length,
    4,
  );
});

Deno.test("KeyedCounter refuses a negative or fractional cap", () => {
  const registry = new MetricRegistry();
  for (const maxExtraKeys of [-1, 1.5, NaN]) {
    assert.throws(
      () =>
        new KeyedCounter({
          registry,
          name: "t_total",
          help: "h",
          label: "k",
          known: [],
          maxExtraKeys,
        }),
      RangeError,
    );
  }
});
